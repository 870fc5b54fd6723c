using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Tests.Hosting;

namespace Pyralog.Grains.Tests.Metadata;

/// <summary>
/// The cluster's record that its metadata group was founded, in grain storage that outlives the silos (Redis in a real
/// cluster; here storage shared by the test's clusters, each started with new, empty data directories): a silo that never
/// ran in the cluster, back first and alone after a full stop, must not found an empty group over it. Each test starts its
/// clusters one after another, one silo each.
/// </summary>
public sealed class MetadataFoundingRecordTests : IDisposable
{
    private readonly string _storage = Guid.NewGuid().ToString("N");

    [Fact]
    public async Task A_silo_without_data_back_first_refuses_to_found_over_the_record_until_told_to_found_again()
    {
        var storage = SharedFoundingRecordStorage.Named(_storage);
        await using (var first = await StartAsync(refound: false))
        {
            var admin = first.Cluster.Client.GetGrain<IPyralogAdminGrain>(0);
            await admin.CreateLogAsync("orders", 1, 1);
            Assert.NotNull(storage.Record); // written by the founding admin call, before it answered
        }

        var founded = storage.Record!;
        await using (var wiped = await StartAsync(refound: false))
        {
            var admin = wiped.Cluster.Client.GetGrain<IPyralogAdminGrain>(0);
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => admin.ListLogsAsync());
            Assert.Contains($"records the group founded (recorded {founded.FoundedAt:O} by {founded.RecordedBy})", refused.Message);
            Assert.Contains("Pyralog:RefoundMetadataGroup=true", refused.Message);
            await Assert.ThrowsAsync<InvalidOperationException>(() => admin.CreateLogAsync("orders", 1, 1));
        }

        Assert.Equal(1, storage.Writes); // refused, and left the record alone
        await using (var refounded = await StartAsync(refound: true))
        {
            var admin = refounded.Cluster.Client.GetGrain<IPyralogAdminGrain>(0);
            Assert.Empty(await admin.ListLogsAsync());
            Assert.Equal("clicks", (await admin.CreateLogAsync("clicks", 1, 1)).Name);
        }

        Assert.Equal(2, storage.Writes);
        Assert.True(storage.Record!.FoundedAt > founded.FoundedAt, "the re-founding replaced the record");
    }

    /// <summary>
    /// The founder's write can fail (its storage unreachable), and a group founded by a build before the record has none:
    /// every silo writes it once it reads the founded group, and again at its next metadata check when that fails too.
    /// </summary>
    [Fact]
    public async Task A_founding_whose_record_was_not_written_gets_it_from_the_silo_that_reads_the_group()
    {
        var storage = SharedFoundingRecordStorage.Named(_storage);
        storage.FailWrites(2); // the founder's, then the silo's first
        await using var fixture = await StartAsync(refound: false);
        var admin = fixture.Cluster.Client.GetGrain<IPyralogAdminGrain>(0);
        await admin.CreateLogAsync("orders", 1, 1);
        await ClusterWaits.UntilAsync(() => storage.Record is not null, "the silo's metadata check writing the founding record");
        Assert.Equal(1, storage.Writes);
        Assert.Equal("orders", Assert.Single(await admin.ListLogsAsync()).Name);
    }

    public void Dispose() => SharedFoundingRecordStorage.Forget(_storage);

    private async Task<RecordFixture> StartAsync(bool refound)
    {
        var fixture = new RecordFixture(_storage, refound);
        await fixture.InitializeAsync();
        return fixture;
    }

    private sealed class RecordFixture(string storage, bool refound) : PyralogClusterFixture(1), IAsyncDisposable
    {
        protected override bool WaitsForMetadataGroup => false; // founding it is what the test is about

        protected override void Configure(TestClusterBuilder builder)
        {
            builder.Properties[SharedFoundingRecordStorage.NameKey] = storage;
            builder.Properties[RefoundKey] = refound ? "true" : "false";
            builder.AddSiloBuilderConfigurator<SharedRecord>();
        }

        ValueTask IAsyncDisposable.DisposeAsync() => new(DisposeAsync());
    }

    private const string RefoundKey = "PyralogRefound";

    private sealed class SharedRecord : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            var storage = SharedFoundingRecordStorage.Named(siloBuilder.Configuration[SharedFoundingRecordStorage.NameKey]!);
            siloBuilder.Services.AddKeyedSingleton<IGrainStorage>(PyralogStorageNames.Cluster, storage);
            var refound = siloBuilder.Configuration[RefoundKey] == "true";
            siloBuilder.Services.AddOptions<PyralogOptions>().Configure(o => o.RefoundMetadataGroup = refound);
        }
    }
}
