namespace Pyralog.Grains.Tests.Partitions;

[CollectionDefinition(Name)]
public sealed class PartitionClusterCollection : ICollectionFixture<PartitionClusterFixture>
{
    public const string Name = "partition cluster";
}
