using Pyralog.Grains.Tests.Hosting;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>Three in-process silos hosting Pyralog, for the client's tests against real partitions.</summary>
public sealed class ClientClusterFixture() : PyralogClusterFixture(3);
