using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Placement;

namespace Pyralog.Grains.Tests.Metadata;

/// <summary>The replica count a drain reports once it took effect: counted from the metadata, unknown when the metadata cannot be read.</summary>
public sealed class HomedReplicaCountTests
{
    [Fact]
    public async Task Replicas_homed_on_the_silo_are_counted_across_logs()
    {
        MetadataLog[] logs =
        [
            Log(1, "x", [["10.0.0.1:1", "10.0.0.2:1"], ["10.0.0.2:1", "10.0.0.3:1"]]),
            Log(2, "y", [["10.0.0.2:1", "10.0.0.1:1"]]),
            new(new LogInfo(3, "new", 1, 2, new LogSettings(), LogState.Creating), null),
        ];

        Assert.Equal(3, await HomedReplicaCount.OnAsync(() => Task.FromResult(logs), "10.0.0.2:1"));
        Assert.Equal(0, await HomedReplicaCount.OnAsync(() => Task.FromResult(logs), "10.0.0.9:1"));
    }

    [Fact]
    public async Task A_metadata_group_that_cannot_answer_makes_the_count_unknown_rather_than_a_failure()
    {
        Assert.Equal(
            HomedReplicaCount.Unknown,
            await HomedReplicaCount.OnAsync(() => Task.FromException<MetadataLog[]>(new TimeoutException("no metadata leader")), "10.0.0.2:1"));
        Assert.Equal(-1, HomedReplicaCount.Unknown);
    }

    [Fact]
    public async Task Cancellation_is_not_swallowed()
    {
        await Assert.ThrowsAsync<OperationCanceledException>(() =>
            HomedReplicaCount.OnAsync(() => Task.FromException<MetadataLog[]>(new OperationCanceledException()), "10.0.0.2:1"));
    }

    private static MetadataLog Log(ulong id, string name, string[][] homes) =>
        new(new LogInfo(id, name, homes.Length, homes[0].Length, new LogSettings(), LogState.Active), null, ReplicaHomes.Of(homes));
}
