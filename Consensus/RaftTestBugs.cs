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
}
