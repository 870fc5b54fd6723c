namespace Pyralog.Consensus;

/// <summary>Why a proposal, read, membership change or transfer was or was not accepted.</summary>
public enum ProposeStatus : byte
{
    Accepted = 0,

    /// <summary>This node is not the leader; <see cref="ProposeResult.LeaderHint"/> names the leader if known (0 = unknown).</summary>
    NotLeader = 1,

    /// <summary>A leadership transfer is in progress; retry at the new leader.</summary>
    TransferInProgress = 2,

    /// <summary>A configuration change is still uncommitted; only one may be pending.</summary>
    ConfigChangePending = 3,

    /// <summary>The leader has not yet committed an entry of its own term (required before membership changes).</summary>
    LeaderNotReady = 4,

    /// <summary>The membership change is invalid for the current configuration (see the change rules in <see cref="ClusterConfig"/>).</summary>
    InvalidConfigChange = 5,

    /// <summary>The proposal was empty.</summary>
    Empty = 6,

    /// <summary>The leadership transfer target is not a voter of the current configuration.</summary>
    UnknownMember = 7,

    /// <summary>Too many entries are uncommitted (<see cref="RaftOptions.MaxUncommittedEntries"/>); retry later.</summary>
    Backpressure = 8,
}
