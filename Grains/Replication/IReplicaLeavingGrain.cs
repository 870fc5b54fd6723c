namespace Pyralog.Grains.Replication;

/// <summary>
/// What a stopping silo asks of each replica active on it before Orleans deactivates them (silo-internal, see
/// <see cref="SiloDrain"/>). Implemented by every replica grain; reach it through the replica's own reference
/// (<c>AsReference</c>), since two grain classes implement it.
/// </summary>
[Alias("pyralog.IReplicaLeavingGrain")]
public interface IReplicaLeavingGrain : IGrainWithStringKey
{
    /// <summary>
    /// A leader starts handing its leadership to slot <paramref name="preferred"/> when that is a caught-up voter not
    /// among <paramref name="siblingsHere"/> (the slots of its group active on this silo too), else to its most caught-up
    /// sibling not among them; a replica that does not lead answers so and does nothing.
    /// </summary>
    [Alias("HandOffForLeavingAsync")]
    Task<LeadershipHandOff> HandOffForLeavingAsync(int[] siblingsHere, int preferred);

    /// <summary>A follower tells its leader this activation is leaving, so the replica that takes its place rejoins at once.</summary>
    [Alias("AnnounceLeavingAsync")]
    Task AnnounceLeavingAsync();
}
