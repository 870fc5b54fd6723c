using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>Three in-process silos hosting Pyralog, each with its own data directory; a killed silo is declared dead within seconds.</summary>
public sealed class PartitionClusterFixture : IAsyncLifetime
{
    private static readonly string DataRoot = Path.Combine(Path.GetTempPath(), $"pyralog-partitions-{Environment.ProcessId}-{Guid.NewGuid():N}");

    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(3);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.Options.InitialSilosCount = 3;
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        if (Directory.Exists(DataRoot))
        {
            Directory.Delete(DataRoot, recursive: true);
        }
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddPyralog();
            siloBuilder.Services.AddOptions<PyralogOptions>().Configure<ILocalSiloDetails>((o, silo) =>
            {
                o.DataDirectory = Path.Combine(DataRoot, silo.Name);
                o.Obelisk.LeaseDuration = TimeSpan.FromSeconds(1);
                o.Obelisk.MaxClockSkew = TimeSpan.FromMilliseconds(100);
            });
            siloBuilder.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 2;
                o.NumVotesForDeathDeclaration = 1;
                o.TableRefreshTimeout = TimeSpan.FromSeconds(1);
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(1);
            });
        }
    }
}
