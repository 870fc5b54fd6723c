namespace Pyralog.Consensus;

/// <summary>What a log entry carries: application data (empty data is the leader's no-op) or a cluster configuration.</summary>
public enum EntryType : byte
{
    /// <summary>Application payload; an empty payload is the no-op a new leader appends to commit its term.</summary>
    Normal = 0,

    /// <summary>A complete encoded <see cref="ClusterConfig"/>; it takes effect as soon as it is in a node's log.</summary>
    Config = 1,
}
