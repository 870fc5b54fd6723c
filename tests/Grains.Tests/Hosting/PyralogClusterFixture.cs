using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Testing;

namespace Pyralog.Grains.Tests.Hosting;

/// <summary>
/// In-process silos hosting Pyralog, each with its own data directory (one root per fixture, so a test that kills silos
/// can run its own cluster beside a shared one), short obelisk leases, a killed silo declared dead within seconds, and
/// no leader balancing unless a derived fixture turns it on.
/// </summary>
public class PyralogClusterFixture(short silos) : IAsyncLifetime
{
    private readonly string _dataRoot = Path.Combine(Path.GetTempPath(), $"pyralog-cluster-{Environment.ProcessId}-{Guid.NewGuid():N}");

    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(silos);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        builder.Properties[SiloConfigurator.DataRootKey] = _dataRoot;
        Configure(builder);
        Cluster = builder.Build();
        await Cluster.DeployAsync();
        // A metadata group founded while a silo was still joining runs two replicas on one silo until one of them has
        // returned home: a test that killed that silo then would have lost the group's majority for good.
        if (WaitsForMetadataGroup)
        {
            await MetadataGroupWait.WholeAsync(Cluster.Client.GetGrain<IPyralogAdminGrain>(0), MetadataGroupOnOwnSilos, TimeSpan.FromSeconds(60));
        }
    }

    /// <summary>Whether the cluster is handed over only once its metadata group is whole; false for tests of founding it.</summary>
    protected virtual bool WaitsForMetadataGroup => true;

    /// <summary>
    /// Whether a whole metadata group also runs each replica on a silo of its own (with three silos or more); false for
    /// clusters whose replicas never go home (homecoming off), where the group stays on the silos that founded it.
    /// </summary>
    protected virtual bool MetadataGroupOnOwnSilos => silos >= 3;

    /// <summary>Adds to the cluster's configuration before it is built (a derived fixture's services).</summary>
    protected virtual void Configure(TestClusterBuilder builder)
    {
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        await DeleteDataAsync();
    }

    /// <summary>
    /// Deletes the silos' data. A recursive delete that meets a file created after it listed a directory fails with
    /// "Directory not empty" (seen once in CI, cause not captured): it is tried again for ten seconds, and every failed
    /// attempt prints what is left to stderr, so a write after a silo stopped is named if it recurs.
    /// </summary>
    private async Task DeleteDataAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (Directory.Exists(_dataRoot))
                {
                    Directory.Delete(_dataRoot, recursive: true);
                }

                return;
            }
            catch (IOException e) when (attempt < 50)
            {
                await Console.Error.WriteLineAsync($"{_dataRoot}: delete attempt {attempt} failed ({e.Message}); left: " +
                    string.Join(", ", Directory.EnumerateFileSystemEntries(_dataRoot, "*", SearchOption.AllDirectories)));
                await Task.Delay(200);
            }
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(Microsoft.Extensions.Configuration.IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.AddActivityPropagation();
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public const string DataRootKey = "PyralogDataRoot";

        public void Configure(ISiloBuilder siloBuilder)
        {
            var dataRoot = siloBuilder.Configuration[DataRootKey] ?? throw new InvalidOperationException("no data root configured");
            siloBuilder.AddPyralog();
            siloBuilder.AddActivityPropagation();
            if (Environment.GetEnvironmentVariable(FileLogs.DirectoryVariable) is { Length: > 0 } logs)
            {
                var name = siloBuilder.Configuration["SiloName"] ?? Guid.NewGuid().ToString("N");
                siloBuilder.Services.AddSingleton<ILoggerProvider>(new FileLogs(Path.Combine(logs, $"{Path.GetFileName(dataRoot)}-{name}.log")));
                siloBuilder.Services.AddLogging(b => b.AddFilter<FileLogs>(static _ => true));
            }

            siloBuilder.Services.AddOptions<PyralogOptions>().Configure<ILocalSiloDetails>((o, silo) =>
            {
                o.DataDirectory = Path.Combine(dataRoot, silo.Name);
                o.Obelisk.LeaseDuration = TimeSpan.FromSeconds(1);
                o.Obelisk.MaxClockSkew = TimeSpan.FromMilliseconds(100);
                // Tests of other things find a partition's leader (or replica) and then call it: balancing would move
                // it meanwhile (LeaderBalancingTests and ReplicaMoveTests turn it on).
                o.Replication.LeaderBalanceInterval = TimeSpan.Zero;
                o.Replication.ReplicaMoveInterval = TimeSpan.Zero;
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
