namespace Pyralog.Consensus;

/// <summary>
/// One Raft message. Every message carries the sender's id and incarnation: votes and acknowledgements only count
/// when that pair matches a voter in the receiver's configuration, which is what keeps a wiped or duplicated replica
/// from voting or acknowledging for the member it used to be. Field use by type:
/// Append: Index/LogTerm = previous entry, Entries, Commit. AppendResponse: Index = last matching index, or on
/// Reject the rejected Index with RejectHint/LogTerm = the follower's conflict hint. Vote/PreVote: Index/LogTerm =
/// candidate's last entry, Context = 1 for a forced (leader transfer) campaign. Heartbeat: Commit, Context = read
/// round. InstallSnapshot: Snapshot = the snapshot's index, term and configuration with one chunk of its data
/// starting at ChunkOffset, SnapshotBytes = the whole data's length. ReadIndex: Context = the
/// follower's read context; ReadIndexResponse: Index = the read index, Context echoed; Reject = refused (the sender is not counted as a member). Messages are immutable once sent; the simulator shares and duplicates them.
/// </summary>
public sealed class Message
{
    public required MessageType Type { get; init; }
    public required long To { get; init; }
    public required long From { get; init; }
    public required long FromIncarnation { get; init; }

    /// <summary>
    /// The incarnation of <see cref="To"/> this message is for (0 = whichever incarnation receives it). Responses
    /// carry the requester's incarnation, so a vote granted to one incarnation of a candidate is never counted by
    /// another incarnation of the same replica campaigning in the same term. Appends, snapshots, vote requests and
    /// TimeoutNow go to the incarnation the sender's configuration names; heartbeats go to any (so the leader hears
    /// of a new incarnation).
    /// </summary>
    public long ToIncarnation { get; init; }
    public required long Term { get; init; }
    public long LogTerm { get; init; }
    public long Index { get; init; }
    public LogEntry[] Entries { get; init; } = [];
    public long Commit { get; init; }
    public bool Reject { get; init; }
    public long RejectHint { get; init; }
    public long Context { get; init; }
    public RaftSnapshot? Snapshot { get; init; }
    public long ChunkOffset { get; init; }
    public long SnapshotBytes { get; init; }

    public override string ToString() =>
        $"{Type} {From}@{FromIncarnation}->{To}@{ToIncarnation} t{Term} i{Index} lt{LogTerm} n{Entries.Length} c{Commit}{(Reject ? " reject hint " + RejectHint : "")} ctx{Context}";
}
