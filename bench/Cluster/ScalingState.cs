using Pyralog.Client.Cluster;
using Pyralog.Silo.Tests.Partitions;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// One look at a cluster during a scaling case: cluster status (replicas per silo, as the replicas report where they
/// run) and how many partitions have a move under way (one slot more than their replication factor).
/// </summary>
internal sealed record ScalingState(ClusterStatus Status, int MovesUnderWay)
{
    public int ActiveSilos => Status.Silos.Count(s => s.IsActive);

    /// <summary>Replicas on the fullest active silo minus those on the emptiest (balanced: at most 1).</summary>
    public int Spread => ActiveSilos == 0 ? 0 : Status.Silos.Where(s => s.IsActive).Max(s => s.Replicas) - Status.Silos.Where(s => s.IsActive).Min(s => s.Replicas);

    /// <summary>Replicas counted on any silo (a replica that did not answer is not).</summary>
    public int Counted => Status.Silos.Sum(s => s.Replicas);

    public int ReplicasOn(PartitionCluster cluster, int silo) => Status.Silos.Where(s => cluster.SiloOf(s.Address) == silo).Sum(s => s.Replicas);

    /// <summary>Replicas and leaders per silo, moves under way and the status verdict, in a line.</summary>
    public string Describe() =>
        $"replicas (leaders) per silo {string.Join(", ", Status.Silos.Select(s => $"{s.Address.Split('@')[0]} {s.Status} {s.Replicas} ({s.Leaders})"))}; " +
        $"{MovesUnderWay} moves under way; {Status.Verdict()}{(Status.Notes.Count > 0 ? $"; {Status.Notes.Count} notes, first: {Status.Notes[0]}" : "")}";
}
