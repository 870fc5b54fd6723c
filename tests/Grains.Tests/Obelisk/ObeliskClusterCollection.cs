namespace Pyralog.Grains.Tests.Obelisk;

[CollectionDefinition(Name)]
public sealed class ObeliskClusterCollection : ICollectionFixture<ObeliskClusterFixture>
{
    public const string Name = "obelisk cluster";
}
