namespace Pyralog.Storage.Native;

/// <summary>
/// Told on the store's commit thread that a batch has committed as the store acknowledges writes (durable in
/// <see cref="DurabilityMode.PerBatch"/> unless it asked for <see cref="WriteBatch.SkipSync"/>; written to the page cache
/// otherwise), just before <see cref="PyramidStore.WriteAsync"/>'s task completes. A
/// writer that must act the moment its write commits (a Raft follower's acknowledgement) acts here instead of waiting
/// for its own thread to be scheduled. A hint, not a promise: the store calls it only while commit groups are small
/// (<see cref="PyramidStore.MaxGroupForCommittedListeners"/>), never for a failed write, and a listener that throws
/// counts as not called; the writer then acts after its await, as it would without one.
/// </summary>
internal interface ICommittedWriteListener
{
    /// <summary>Runs on the commit thread: must be short (every writer queued behind the group waits for it) and must not
    /// call the store.</summary>
    void Committed();
}
