using Pyralog.Bench.Harness;

namespace Pyralog.Bench;

/// <summary>Every suite the bench knows; add a suite here to make it runnable by name.</summary>
public static class BenchSuites
{
    public static IReadOnlyList<IBenchSuite> All { get; } =
    [
        new Cluster.ClusterSuite(),
        new Ids.IdsSuite(),
        new Partition.PartitionSuite(),
        new Raft.RaftSuite(),
        new Storage.StorageSuite(),
    ];
}
