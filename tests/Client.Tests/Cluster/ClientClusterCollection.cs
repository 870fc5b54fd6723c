namespace Pyralog.Client.Tests.Cluster;

[CollectionDefinition(Name)]
public sealed class ClientClusterCollection : ICollectionFixture<ClientClusterFixture>
{
    public const string Name = "client cluster";
}
