namespace Pyralog.Consensus;

/// <summary>The role of a Raft node. A pre-candidate runs a pre-vote round without changing its term.</summary>
public enum RaftRole : byte
{
    Follower = 0,
    PreCandidate = 1,
    Candidate = 2,
    Leader = 3,
}
