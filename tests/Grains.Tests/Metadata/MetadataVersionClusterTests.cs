using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Tests.Partitions;

namespace Pyralog.Grains.Tests.Metadata;

/// <summary>The version gate on a three-silo cluster: the group rises to this build's version, and a command no replica could apply is refused without stopping it.</summary>
[Collection(PartitionClusterCollection.Name)]
public sealed class MetadataVersionClusterTests(PartitionClusterFixture fixture)
{
    private IGrainFactory Grains => fixture.Cluster.Client;

    [Fact]
    public async Task The_group_rises_to_the_version_every_silo_applies()
    {
        await PartitionCalls.WaitForMetadataVersionAsync(Grains);
        Assert.Equal(MetadataVersion.Latest, (await Grains.GetGrain<IMetadataAdminGrain>(0).GetAppliedMetadataLogsAsync(-1)).Version);
    }

    [Fact]
    public async Task A_command_no_replica_could_apply_is_refused_and_the_group_goes_on()
    {
        var metadata = Grains.GetGrain<IMetadataAdminGrain>(0);
        Assert.Equal(new MetadataResult(null, "unknown metadata command kind 'split-partition'"),
            await metadata.CommitMetadataAsync(new MetadataCommand { Kind = "split-partition", LogId = 1 }.Encode()));
        Assert.Equal(new MetadataResult(null, $"cannot raise the metadata version to {MetadataVersion.Latest + 1}: this build applies versions 1 to {MetadataVersion.Latest}"),
            await metadata.CommitMetadataAsync(new MetadataCommand { Kind = MetadataVersion.RaiseKind, Version = MetadataVersion.Latest + 1 }.Encode()));
        var garbled = await Assert.ThrowsAsync<ArgumentException>(() => metadata.CommitMetadataAsync("{\"Kind\":"u8.ToArray()));
        Assert.StartsWith("8 bytes are not a metadata command: ", garbled.Message);

        var admin = Grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync("after-refusals", partitions: 1, replicationFactor: 3);
        Assert.Equal(LogState.Active, log.State);
        await admin.DeleteLogAsync("after-refusals");
    }
}
