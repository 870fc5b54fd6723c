using System.Text;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Tests.Hosting;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>One silo (what `dotnet run --project Silo` starts): the metadata group and an RF 3 log share it, and say so.</summary>
public sealed class SingleSiloTests : IAsyncLifetime
{
    private readonly PyralogClusterFixture _fixture = new(1);

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task A_log_of_three_replicas_works_on_one_silo_with_its_replicas_sharing_it()
    {
        var grains = _fixture.Cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync("local", 2, 3);
        var leader = await PartitionCalls.LeaderAsync(grains, log, 1);
        var ack = await leader.AppendAsync([PartitionCalls.Rec("one"), PartitionCalls.Rec("two")]);
        Assert.Equal(new AppendAck(ack.Epoch, 0, 2), ack);
        var read = await leader.ReadAsync(0, 1024, linearizable: true);
        Assert.Equal(["one", "two"], read.Records.Select(r => Encoding.UTF8.GetString(r.Value)));

        var description = await admin.DescribeLogAsync("local");
        Assert.All(description.Partitions, p => Assert.True(p.SharedSilos));
        Assert.Equal(2ul, description.Partitions[1].CommittedNext);
        Assert.Equal(["local"], (await admin.ListLogsAsync()).Select(l => l.Name));
    }

    [Fact]
    public async Task The_applied_metadata_comes_without_its_logs_only_for_the_index_the_caller_holds()
    {
        var grains = _fixture.Cluster.Client;
        var metadata = grains.GetGrain<Pyralog.Grains.Metadata.IMetadataAdminGrain>(0);
        await PartitionCalls.WaitForMetadataVersionAsync(grains); // the version's rise is a commit too: it must not come between the reads
        await grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("versioned", 1, 1);
        var first = await metadata.GetAppliedMetadataLogsAsync(-1);
        Assert.Equal(["versioned"], first.Logs!.Select(l => l.Info.Name));

        var unchanged = await metadata.GetAppliedMetadataLogsAsync(first.AppliedIndex);
        Assert.Equal(first.AppliedIndex, unchanged.AppliedIndex);
        Assert.Null(unchanged.Logs);

        var stale = await metadata.GetAppliedMetadataLogsAsync(first.AppliedIndex - 1);
        Assert.Equal(["versioned"], stale.Logs!.Select(l => l.Info.Name));

        await grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("another", 1, 1);
        var changed = await metadata.GetAppliedMetadataLogsAsync(first.AppliedIndex);
        Assert.True(changed.AppliedIndex > first.AppliedIndex);
        Assert.Equal(["another", "versioned"], changed.Logs!.Select(l => l.Info.Name).Order());
    }
}
