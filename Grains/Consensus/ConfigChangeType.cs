namespace Pyralog.Grains.Consensus;

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
    /// Replace a voter's stale incarnation by a new one that starts as an auto-promoting learner: removes one voter,
    /// so it is a single-server change.
    /// </summary>
    Rejoin = 4,
}
