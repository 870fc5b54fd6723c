namespace Pyralog.Grains.Replication;

/// <summary>
/// A replica's answer to <see cref="IReplicaLeavingGrain.HandOffForLeavingAsync"/>: whether it still leads, the slot it
/// hands its leadership to (-1 none), when it leads and hands to no one why not, and how many appends proposed while
/// it led are still waiting for their outcome (it answers them as it applies them, also after it stopped leading).
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.LeadershipHandOff")]
public sealed record LeadershipHandOff([property: Id(0)] bool Leads, [property: Id(1)] int To, [property: Id(2)] string? Obstacle, [property: Id(3)] int Pending = 0)
{
    /// <summary>Not leading, nothing pending: done.</summary>
    public bool Settled => !Leads && Pending == 0 && Obstacle is null;
}
