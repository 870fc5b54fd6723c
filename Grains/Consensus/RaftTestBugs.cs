namespace Pyralog.Grains.Consensus;

/// <summary>Faults the tests inject into a node to show the simulator catches them. Never set outside tests.</summary>
[Flags]
internal enum RaftTestBugs
{
    None = 0,

    /// <summary>Grant votes and pre-votes without Raft's log up-to-date check.</summary>
    SkipVoteLogCheck = 1,
}
