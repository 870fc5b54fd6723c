namespace Pyralog.Consensus;

/// <summary>How the leader replicates to one peer (etcd-raft's progress states).</summary>
internal enum ProgressState : byte
{
    /// <summary>Next is a guess: one Append in flight at a time until the peer's match is known.</summary>
    Probe = 0,

    /// <summary>Match is known: Appends are pipelined up to the in-flight bounds.</summary>
    Replicate = 1,

    /// <summary>An InstallSnapshot is outstanding; nothing else is sent until it is acknowledged or given up.</summary>
    Snapshot = 2,
}
