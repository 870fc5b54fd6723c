namespace Pyralog.Consensus;

/// <summary>
/// One write batch the host persists asynchronously: a snapshot received from the leader (replaces the whole log),
/// entries (the first may overwrite an existing index and truncates everything from it) and the hard state. The host
/// owns it (nothing here is reused by the node). Write it in that order — snapshot, entries, hard state — ideally as
/// one atomic batch; the node stays safe if a crash lands between the parts (the commit index in the hard state never
/// exceeds the entries before it). Batches complete in the order they were handed out. When this one is durable:
/// install <see cref="Snapshot"/> (if any) into the state machine, call <see cref="RaftNode.Persisted"/> with
/// <see cref="Mark"/>, then send <see cref="MessagesAfterPersist"/> — acknowledgements and vote grants that promise
/// this batch (and every earlier one) is on disk. A batch with nothing to write but such messages still waits for
/// the batches before it.
/// </summary>
public sealed class PersistBatch
{
    internal PersistBatch(RaftSnapshot? snapshot, LogEntry[] entries, HardState hardState, bool hardStateChanged, List<Message> messagesAfterPersist, PersistMark mark)
    {
        Snapshot = snapshot;
        Entries = entries;
        HardState = hardState;
        HardStateChanged = hardStateChanged;
        MessagesAfterPersist = messagesAfterPersist;
        Mark = mark;
    }

    public RaftSnapshot? Snapshot { get; }

    public LogEntry[] Entries { get; }

    public HardState HardState { get; }

    /// <summary>False when the hard state is what the previous batch already wrote (nothing to rewrite).</summary>
    public bool HardStateChanged { get; }

    public IReadOnlyList<Message> MessagesAfterPersist { get; }

    public PersistMark Mark { get; }
}
