namespace Pyralog.Consensus;

/// <summary>The single-server membership changes a leader accepts (see <see cref="ClusterConfig"/> for the safety rules).</summary>
public enum ConfigChangeType : byte
{
    /// <summary>Add a learner: receives the log, never votes, never counts toward a quorum.</summary>
    AddLearner = 0,

    /// <summary>Add a voter directly (one voter at a time).</summary>
    AddVoter = 1,

    /// <summary>Turn an existing learner (same incarnation) into a voter.</summary>
    PromoteLearner = 2,

    /// <summary>Remove a voter or learner. The leader cannot remove itself: transfer leadership first.</summary>
    Remove = 3,

    /// <summary>
    /// Replace a member's incarnation by another incarnation of the same replica (normally a newer one that lost the
    /// disk; an older one when a short-lived newer one is gone), which starts as an auto-promoting learner: removes at
    /// most one voter, so it is a single-server change.
    /// </summary>
    Rejoin = 4,
}
