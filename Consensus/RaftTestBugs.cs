namespace Pyralog.Consensus;

/// <summary>Faults the tests inject into a node to show the simulator catches them. Never set outside tests.</summary>
[Flags]
internal enum RaftTestBugs
{
    None = 0,

    /// <summary>Grant votes and pre-votes without Raft's log up-to-date check.</summary>
    SkipVoteLogCheck = 1,

    /// <summary>Answer ReadIndex at once, without confirming leadership with a quorum (stale reads after a partition).</summary>
    ReadWithoutQuorum = 2,

    /// <summary>Commit entries of earlier terms by counting replicas (the Raft paper's Figure 8 error).</summary>
    CommitPreviousTerms = 4,

    /// <summary>The leader counts its own entries toward a commit before they are durable.</summary>
    LeaderCountsUnpersisted = 8,

    /// <summary>A follower overwriting a conflicting range keeps the old entries behind it.</summary>
    KeepSuffixOnConflict = 16,

    /// <summary>A new leader accepts a membership change before committing an entry of its own term.</summary>
    ConfigChangeBeforeTermCommit = 32,

    /// <summary>A batch does not rewrite the hard state when only the vote changed.</summary>
    HardStateIgnoresVote = 64,

    /// <summary>Acknowledgements and vote grants are sent at once instead of after their batch is durable.</summary>
    AcknowledgeBeforePersist = 128,

    /// <summary>A candidate counts its own vote before the hard state recording it is durable.</summary>
    SelfVoteBeforePersist = 256,
}
