using Pyralog.Storage.Native.Log;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>
/// With Interval or None durability a prefix truncation is visible before its WAL frame is synced. Compaction must
/// not delete the truncated records until the truncation is durable: after a power loss the log's bounds may go back
/// to before the truncation, and then every record they cover must still be there.
/// </summary>
public class PowerLossTruncationTests
{
    private const ulong Log = 1;
    private const ulong Other = 2;

    [Theory]
    [InlineData(DurabilityMode.Interval)]
    [InlineData(DurabilityMode.None)]
    public async Task A_truncation_lost_to_a_power_loss_never_leaves_bounds_over_deleted_records(DurabilityMode durability)
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions
        {
            BackgroundWork = false,
            Device = device,
            Durability = durability,
            SyncInterval = TimeSpan.FromHours(1), // no timer sync: only what the store syncs on purpose is durable
        };
        var store = PyramidStore.Open(dir.Path, options);
        for (ulong offset = 0; offset < 100; offset += 10)
        {
            await store.AppendAsync(Log, Enumerable.Range(0, 10).Select(i => new AppendRecord(1, offset + (ulong)i, new byte[200])).ToArray());
            await store.AppendAsync(Other, Enumerable.Range(0, 10).Select(i => new AppendRecord(1, offset + (ulong)i, new byte[200])).ToArray());
        }

        await store.FlushAsync(); // records and bounds durable in segments and the manifest
        await store.TruncatePrefixAsync(Log, 50); // visible now, in the WAL's page cache only
        await store.CompactAsync(); // rewrites the segments without what lies below each log's first offset
        Assert.Equal(new LogBounds(50, 100), store.GetLogBounds(Log));
        await PowerLossDevice.LosePowerAsync(store, device);

        await using var reopened = PyramidStore.Open(dir.Path, options);
        var bounds = reopened.GetLogBounds(Log);
        Assert.Equal(100ul, bounds.Next);
        for (var offset = bounds.First; offset < bounds.Next; offset++)
        {
            Assert.NotNull(await reopened.ReadAsync(Log, offset)); // a missing record would throw PyramidCorruptionException
        }

        Assert.Equal(new LogBounds(0, 100), reopened.GetLogBounds(Other));
        using var cursor = reopened.ReadLog(Other, 0);
        var count = 0;
        while (cursor.MoveNext())
        {
            count++;
        }

        Assert.Equal(100, count);
    }
}
