using Pyralog.Grains.Tests.Hosting;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>The partition tests' cluster: three silos unless told.</summary>
public sealed class PartitionClusterFixture(short silos) : PyralogClusterFixture(silos)
{
    public PartitionClusterFixture()
        : this(3)
    {
    }
}
