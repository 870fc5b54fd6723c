namespace Pyralog.Consensus;

/// <summary>
/// The state a node must persist before it sends any message of the same <see cref="Ready"/>: the current term,
/// the candidate it voted for in that term (0 = none) with that candidate's incarnation, and the commit index.
/// Losing Term or Vote could let a node vote twice in one term; the incarnation stops two live incarnations of one
/// candidate from both collecting this node's vote in one term. Commit is persisted so a restarted node can
/// re-apply without waiting for a leader. Incarnation is the incarnation that owns this storage (0 = not yet
/// recorded): a node refuses to start on storage written by another incarnation.
/// </summary>
public readonly record struct HardState(long Term, long Vote, long Commit, long VoteIncarnation = 0, long Incarnation = 0);
