using Microsoft.Extensions.Time.Testing;
using Pyralog.Client.Logs;

namespace Pyralog.Client.Tests.Logs;

/// <summary>
/// The client's log cache: a cached log is answered without asking the cluster until it is older than
/// <see cref="CachedLogs.RefreshInterval"/>; then the old entry is still answered at once while one background read
/// replaces it, and a log the cluster no longer has is forgotten.
/// </summary>
public sealed class CachedLogsTests
{
    [Fact]
    public async Task An_old_entry_is_answered_at_once_and_refreshed_in_the_background()
    {
        var grains = new FakeGrains(FakeGrains.Log("orders", partitions: 2));
        var time = new FakeTimeProvider();
        var metadata = new CachedLogs(grains, time);

        Assert.False(metadata.TryGet("orders", out _));
        Assert.Equal(2, (await metadata.GetAsync("orders", CancellationToken.None)).Info.Partitions);
        Assert.Equal(1, grains.LogReads);

        grains.Put(FakeGrains.Log("orders", partitions: 4)); // changed in the cluster
        time.Advance(CachedLogs.RefreshInterval - TimeSpan.FromMilliseconds(1));
        for (var i = 0; i < 100; i++)
        {
            Assert.True(metadata.TryGet("orders", out var fresh));
            Assert.Equal(2, fresh.Info.Partitions);
        }

        Assert.Equal(1, grains.LogReads); // young enough: no read

        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(metadata.TryGet("orders", out var old));
        Assert.Equal(2, old.Info.Partitions); // answered from the cache while the refresh runs
        await Eventually.TrueAsync(() => metadata.TryGet("orders", out var now) && now.Info.Partitions == 4, "the refreshed log");
        Assert.Equal(2, grains.LogReads);
    }

    [Fact]
    public async Task A_log_the_cluster_no_longer_has_is_forgotten_at_its_refresh()
    {
        var grains = new FakeGrains(FakeGrains.Log("orders", partitions: 2));
        var time = new FakeTimeProvider();
        var metadata = new CachedLogs(grains, time);
        await metadata.GetAsync("orders", CancellationToken.None);

        grains.Delete("orders");
        time.Advance(CachedLogs.RefreshInterval);
        Assert.True(metadata.TryGet("orders", out _));
        await Eventually.TrueAsync(() => !metadata.TryGet("orders", out _), "the deleted log to leave the cache");
        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await metadata.GetAsync("orders", CancellationToken.None));
        Assert.Equal("no log is named 'orders'", error.Message);
    }

    [Fact]
    public void A_replica_reference_is_made_once_per_key_and_kept()
    {
        var metadata = new CachedLogs(new FakeGrains(), new FakeTimeProvider());

        var first = metadata.Replica("orders/0/1");
        Assert.Same(first, metadata.Replica("orders/0/1"));
        Assert.NotSame(first, metadata.Replica("orders/0/2"));
    }
}
