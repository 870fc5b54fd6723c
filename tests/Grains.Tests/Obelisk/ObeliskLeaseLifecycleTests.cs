using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Storage;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Grains.Obelisk;

namespace Pyralog.Grains.Tests.Obelisk;

/// <summary>
/// When a first activation waits for its lease (in-memory storage: only once a silo has left) and what a graceful
/// stop does with the leases of the obelisks on the stopping silo. Each test runs its own two-silo cluster.
/// </summary>
public sealed class ObeliskLeaseLifecycleTests : IAsyncLifetime
{
    private static readonly string DataRoot = Path.Combine(Path.GetTempPath(), $"pyralog-lease-lifecycle-{Environment.ProcessId}");
    private static readonly TimeSpan ShortLease = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ShortSkew = TimeSpan.FromMilliseconds(100);
    private TestCluster? _cluster;

    public Task InitializeAsync()
    {
        CapturedLogs.Lines.Clear();
        SharedLeaseStorage.Records.Clear();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        if (Directory.Exists(DataRoot))
        {
            Directory.Delete(DataRoot, recursive: true);
        }
    }

    [Fact]
    public async Task With_in_memory_leases_a_first_activation_waits_only_once_a_silo_has_left()
    {
        var cluster = await StartAsync<InMemoryLeases>();

        // Nothing can have been lost yet: a missing record was never written (the grain says it did not wait, without a clock).
        var fresh = await cluster.Client.GetGrain<IObeliskGrain>(30).GetStatusAsync();
        Assert.Equal(1UL, fresh.Fence);
        Assert.Equal(TimeSpan.Zero, fresh.LeaseWait);
        Assert.Null(fresh.LeaseWaitReason);

        var secondary = cluster.SecondarySilos[0];
        await cluster.StopSiloAsync(secondary);
        var membership = ((InProcessSiloHandle)cluster.Primary!).SiloHost!.Services.GetRequiredService<IClusterMembershipService>();
        await WaitForAsync(() => membership.CurrentSnapshot.Members.Values.Any(m => m.SiloAddress.Equals(secondary.SiloAddress) && m.Status == SiloStatus.Dead));

        // Now a record may have been lost with the secondary: a first activation waits one lease + skew.
        var started = Stopwatch.StartNew();
        var afterLoss = await cluster.Client.GetGrain<IObeliskGrain>(31).GetStatusAsync();
        Assert.Equal(ShortLease + ShortSkew, afterLoss.LeaseWait);
        Assert.Contains("left the cluster", afterLoss.LeaseWaitReason);
        Assert.Contains(secondary.SiloAddress.ToString(), afterLoss.LeaseWaitReason);
        Assert.True(started.Elapsed >= ShortLease + ShortSkew, $"the activation took only {started.Elapsed}");
        var warning = Assert.Single(CapturedLogs.Lines, l => l.Message.StartsWith("Obelisk 31 waits", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("left the cluster", warning.Message);
    }

    [Fact]
    public async Task A_graceful_stop_releases_every_local_lease_so_the_next_activation_elsewhere_does_not_wait()
    {
        var cluster = await StartAsync<SharedLeases>();
        var obelisks = Enumerable.Range(40, 20).Select(i => cluster.Client.GetGrain<IObeliskGrain>(i)).ToArray();
        var before = new Dictionary<int, (ObeliskStatus Status, ScarabId Last)>();
        foreach (var obelisk in obelisks)
        {
            var id = await obelisk.NextAsync();
            before[id.ObeliskId] = (await obelisk.GetStatusAsync(), id);
        }

        var secondary = cluster.SecondarySilos[0].SiloAddress.ToString();
        var moving = before.Where(b => b.Value.Status.Silo == secondary).Select(b => b.Key).ToArray();
        Assert.NotEmpty(moving);
        await cluster.StopSiloAsync(cluster.SecondarySilos[0]);

        foreach (var obeliskId in moving)
        {
            // Released at the start of the stop: the record says so, and the newcomer takes it at once, above the old IDs.
            Assert.Equal(0, SharedLeaseStorage.Records[obelisks[obeliskId - 40].GetGrainId()].Lease.LeaseExpiresUnixMs);
            var grain = obelisks[obeliskId - 40];
            var next = await grain.NextAsync();
            var status = await grain.GetStatusAsync();
            Assert.Equal(cluster.Primary!.SiloAddress.ToString(), status.Silo);
            Assert.Equal(before[obeliskId].Status.Fence + 1, status.Fence);
            Assert.Equal(TimeSpan.Zero, status.LeaseWait);
            Assert.True(next > before[obeliskId].Last, $"{next.ToReadableString()} is not above {before[obeliskId].Last.ToReadableString()}");
        }

        Assert.Contains(CapturedLogs.Lines, l => l.Message == $"Deactivated {moving.Length} local obelisks at the start of the stop");
        Assert.DoesNotContain(CapturedLogs.Lines, l => l.Message.Contains("could not release", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Stopping_a_whole_cluster_with_in_memory_leases_logs_no_failed_release()
    {
        var cluster = await StartAsync<InMemoryLeases>();
        var obelisks = Enumerable.Range(60, 40).Select(i => cluster.Client.GetGrain<IObeliskGrain>(i)).ToArray();
        await Task.WhenAll(obelisks.Select(o => o.NextAsync()));
        var silos = (await Task.WhenAll(obelisks.Select(o => o.GetStatusAsync()))).Select(s => s.Silo).Distinct().Count();
        Assert.Equal(2, silos);

        await cluster.StopAllSilosAsync();

        Assert.DoesNotContain(CapturedLogs.Lines, l => l.Message.Contains("could not release", StringComparison.Ordinal));
        Assert.DoesNotContain(CapturedLogs.Lines, l => l.Level >= LogLevel.Error && l.Category.StartsWith("Orleans.Storage", StringComparison.Ordinal));
        Assert.Equal(2, CapturedLogs.Lines.Count(l => l.Message.EndsWith(" local obelisks at the start of the stop", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task The_lease_record_never_reserves_past_the_formats_end_and_an_obelisk_there_fails_naming_itself()
    {
        var cluster = await StartAsync<SharedLeases>();

        // The last holder released 5 s before the last time a Scarab ID holds: a 10 s lease would reserve past it.
        var nearEnd = cluster.Client.GetGrain<IObeliskGrain>(100);
        SharedLeaseStorage.Records[nearEnd.GetGrainId()] = ("seed", new ObeliskLease { Fence = 4, ReservedUntilMs = ScarabId.MaxMilliseconds - 5_000 });
        var id = await nearEnd.NextAsync();
        Assert.Equal(100, id.ObeliskId);
        Assert.InRange(id.Milliseconds, ScarabId.MaxMilliseconds - 5_000, ScarabId.MaxMilliseconds);
        Assert.Equal(5UL, SharedLeaseStorage.Records[nearEnd.GetGrainId()].Lease.Fence);
        Assert.Equal(ScarabId.MaxMilliseconds + 1, SharedLeaseStorage.Records[nearEnd.GetGrainId()].Lease.ReservedUntilMs);

        // An obelisk whose record says everything up to the end was issued refuses, and says which one it is.
        var atEnd = cluster.Client.GetGrain<IObeliskGrain>(101);
        SharedLeaseStorage.Records[atEnd.GetGrainId()] = ("seed", new ObeliskLease { Fence = 7, ReservedUntilMs = ScarabId.MaxMilliseconds + 1 });
        var e = await Assert.ThrowsAsync<OverflowException>(() => atEnd.NextAsync());
        Assert.StartsWith("Obelisk 101 has exhausted the Scarab ID time range: 1 more ID(s) would be stamped past ", e.Message, StringComparison.Ordinal);
        Assert.Equal(ScarabId.MaxMilliseconds + 1, SharedLeaseStorage.Records[atEnd.GetGrainId()].Lease.ReservedUntilMs);
    }

    private async Task<TestCluster> StartAsync<TConfigurator>()
        where TConfigurator : ISiloConfigurator, new()
    {
        var builder = new TestClusterBuilder(2);
        builder.AddSiloBuilderConfigurator<TConfigurator>();
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        return _cluster;
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the condition did not hold within the deadline");
            }

            await Task.Delay(50);
        }
    }

    private static void Configure(ISiloBuilder siloBuilder, TimeSpan lease, TimeSpan skew)
    {
        siloBuilder.AddPyralog();
        siloBuilder.Services.AddSingleton<ILoggerProvider, CapturedLogs>();
        siloBuilder.Services.AddOptions<PyralogOptions>().Configure<ILocalSiloDetails>((o, silo) =>
        {
            o.DataDirectory = Path.Combine(DataRoot, silo.Name);
            o.Obelisk.LeaseDuration = lease;
            o.Obelisk.MaxClockSkew = skew;
        });
    }

    private sealed class InMemoryLeases : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => ObeliskLeaseLifecycleTests.Configure(siloBuilder, ShortLease, ShortSkew);
    }

    private sealed class SharedLeases : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            // Registered first, so AddPyralog treats the lease storage as durable. A long lease: an unreleased one would show.
            siloBuilder.Services.AddKeyedSingleton<IGrainStorage, SharedLeaseStorage>(PyralogStorageNames.Obelisk);
            siloBuilder.AddMemoryGrainStorage(PyralogStorageNames.Cluster); // SharedLeaseStorage holds leases only
            ObeliskLeaseLifecycleTests.Configure(siloBuilder, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(500));
        }
    }
}
