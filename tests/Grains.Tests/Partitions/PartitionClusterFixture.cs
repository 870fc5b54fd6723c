using Pyralog.Grains.Tests.Hosting;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>The partition tests' shared cluster: three silos.</summary>
public sealed class PartitionClusterFixture() : PyralogClusterFixture(3);
