using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Storage.Native;
using Pyralog.Storage.Native.Log;

namespace Pyralog.Grains.Tests.Hosting;

/// <summary>The silo's store follows the silo lifecycle: open (recovered) before the silo serves, closed after it stops.</summary>
public class SiloStoreTests
{
    private static readonly string DataRoot = Path.Combine(Path.GetTempPath(), $"pyralog-silo-store-{Environment.ProcessId}-{Guid.NewGuid():N}");

    /// <summary>
    /// A store that stops accepting writes after a failed fdatasync stops the silo (a restart reopens it): its replicas
    /// would otherwise fail and reactivate in a loop while the silo looked healthy.
    /// </summary>
    [Fact]
    public async Task A_store_stopped_by_a_failed_sync_stops_the_silo_and_says_why()
    {
        var device = new FailingSyncDevice();
        var options = Microsoft.Extensions.Options.Options.Create(new PyralogOptions
        {
            DataDirectory = Path.Combine(DataRoot, "failing"),
            Store = new PyramidOptions { Device = device, BackgroundWork = false },
        });
        var lifetime = new Microsoft.Extensions.Hosting.Internal.ApplicationLifetime(
            Microsoft.Extensions.Logging.Abstractions.NullLogger<Microsoft.Extensions.Hosting.Internal.ApplicationLifetime>.Instance);
        await using var services = new ServiceCollection().AddSingleton<Microsoft.Extensions.Hosting.IHostApplicationLifetime>(lifetime).BuildServiceProvider();
        var siloStore = new SiloStore(options, Microsoft.Extensions.Logging.Abstractions.NullLogger<SiloStore>.Instance, services);
        await siloStore.OpenAsync(CancellationToken.None);
        try
        {
            await siloStore.Store.AppendAsync(7, 1, 0, "acknowledged"u8.ToArray());
            Assert.Null(siloStore.Failure);
            Assert.False(lifetime.ApplicationStopping.IsCancellationRequested);

            device.FailNextWalSync();
            await Assert.ThrowsAsync<IOException>(async () => await siloStore.Store.AppendAsync(7, 1, 1, "failed"u8.ToArray()));
            var stopping = new TaskCompletionSource();
            using (lifetime.ApplicationStopping.Register(stopping.SetResult))
            {
                await stopping.Task.WaitAsync(TimeSpan.FromSeconds(30));
            }

            Assert.Equal("injected fdatasync failure on '", siloStore.Failure?.InnerException?.Message[..31]);
        }
        finally
        {
            await siloStore.CloseAsync(CancellationToken.None);
            Directory.Delete(DataRoot, recursive: true);
        }
    }

    [Fact]
    public async Task The_store_opens_before_the_silo_serves_closes_with_it_and_recovers_on_restart()
    {
        try
        {
            var directory = SiloStore.DirectoryFor(new PyralogOptions { DataDirectory = DataRoot });
            var cluster = await StartAsync();
            try
            {
                var siloStore = Services(cluster).GetRequiredService<SiloStore>();
                await siloStore.Store.AppendAsync(7, 1, 0, "kept across restarts"u8.ToArray());
                Assert.Equal(directory, siloStore.Store.Directory);
                await cluster.StopAllSilosAsync();
                Assert.Throws<InvalidOperationException>(() => siloStore.Store);
            }
            finally
            {
                await cluster.DisposeAsync();
            }

            // Closed: the directory lock was released, and what was acknowledged is there.
            await using (var reopened = PyramidStore.Open(directory))
            {
                Assert.Equal(new LogBounds(0, 1), reopened.GetLogBounds(7));
            }

            cluster = await StartAsync();
            try
            {
                var store = Services(cluster).GetRequiredService<SiloStore>().Store;
                Assert.Equal("kept across restarts"u8.ToArray(), (await store.ReadAsync(7, 0))!.Payload);
            }
            finally
            {
                await cluster.StopAllSilosAsync();
                await cluster.DisposeAsync();
            }
        }
        finally
        {
            if (Directory.Exists(DataRoot))
            {
                Directory.Delete(DataRoot, recursive: true);
            }
        }
    }

    private static IServiceProvider Services(TestCluster cluster) => ((InProcessSiloHandle)cluster.Primary!).SiloHost.Services;

    private static async Task<TestCluster> StartAsync()
    {
        var builder = new TestClusterBuilder(1);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder.AddPyralog(o => o.DataDirectory = DataRoot);
    }
}
