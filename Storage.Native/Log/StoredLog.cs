namespace Pyralog.Storage.Native.Log;

/// <summary>
/// One log inside a store: its bounds as the commit loop applies writes, as readers see them, and as
/// queued writers have reserved them, plus its retention. A few hundred bytes, whatever the log holds.
/// </summary>
internal sealed class StoredLog(ulong id, LogSpaceState state)
{
    public ulong Id { get; } = id;

    /// <summary>State after every write applied so far. Invariant: touched only by the commit loop (or recovery).</summary>
    public LogSpaceState Writer = state;

    /// <summary>State as of the last published commit. Invariant: read and written under the store's view lock.</summary>
    public LogSpaceState Published = state;

    /// <summary>Bounds once every queued write commits. Invariant: read and written under the store's queue lock.</summary>
    public ulong ReservedFirst = state.First;

    /// <inheritdoc cref="ReservedFirst"/>
    public ulong ReservedNext = state.Next;

    /// <summary>The commit group that last touched the log (commit loop only): publishing copies each touched log once.</summary>
    public long TouchedInGroup = -1;

    /// <summary>Set only while the reservation that created the log runs (under the queue lock), so a refused batch can remove it.</summary>
    public bool CreatedByReservation;

    /// <summary>Age retention; null keeps records. Set by the log's owner: a Raft-owned log never has one.</summary>
    public TimeSpan? RetentionAge;

    /// <summary>Size retention in payload bytes; null keeps records.</summary>
    public long? RetentionBytes;
}
