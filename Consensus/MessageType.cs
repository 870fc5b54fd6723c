namespace Pyralog.Consensus;

/// <summary>Wire messages between Raft nodes.</summary>
public enum MessageType : byte
{
    Append = 0,
    AppendResponse = 1,
    Vote = 2,
    VoteResponse = 3,
    PreVote = 4,
    PreVoteResponse = 5,
    Heartbeat = 6,
    HeartbeatResponse = 7,
    InstallSnapshot = 8,
    TimeoutNow = 9,
    ReadIndex = 10,
    ReadIndexResponse = 11,
}
