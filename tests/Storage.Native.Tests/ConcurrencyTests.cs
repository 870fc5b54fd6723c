using System.Buffers.Binary;

namespace Pyralog.Storage.Native.Tests;

public class ConcurrencyTests
{
    private const ulong Log = 1;

    private static byte[] Payload(ulong offset)
    {
        var bytes = new byte[16 + (int)(offset % 200)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, offset);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), offset * 0x9E3779B97F4A7C15UL);
        return bytes;
    }

    [Fact]
    public async Task Readers_and_scans_see_consistent_data_during_appends_flushes_and_compactions()
    {
        using var dir = new TempDirectory();
        var options = new PyramidOptions
        {
            MemtableBytes = 128 << 10,
            BlockBytes = 1024,
            TargetSegmentBytes = 128 << 10,
            L1TargetBytes = 256 << 10,
            L0CompactionTrigger = 2,
            CompactionBytesPerSecond = 0,
            Durability = DurabilityMode.None,
            BlockCacheBytes = 64 << 10,
        };
        const int total = 60_000;
        await using var store = PyramidStore.Open(dir.Path, options);
        using var done = new CancellationTokenSource();
        var failures = new List<string>();

        var writers = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            // Two writers race for offsets; the loser of a race retries at the new end.
            var random = new Random(Environment.CurrentManagedThreadId);
            while (true)
            {
                var next = store.GetLogBounds(Log).Next;
                if (next >= total)
                {
                    return;
                }

                var count = random.Next(1, 200);
                var batch = new WriteBatch();
                for (var i = 0; i < count; i++)
                {
                    batch.Append(Log, 1, next + (ulong)i, Payload(next + (ulong)i));
                }

                batch.Put("tail"u8, BitConverter.GetBytes(next + (ulong)count));
                try
                {
                    await store.WriteAsync(batch);
                }
                catch (ArgumentException)
                {
                    // Lost the race for this offset.
                }
                finally
                {
                    batch.Dispose();
                }
            }
        })).ToArray();

        var readers = Enumerable.Range(0, 2).Select(seed => Task.Run(async () =>
        {
            var random = new Random(seed);
            while (!done.IsCancellationRequested)
            {
                var next = store.GetLogBounds(Log).Next;
                if (next == 0)
                {
                    continue;
                }

                var offset = (ulong)random.NextInt64((long)next);
                var record = await store.ReadAsync(Log, offset);
                if (record is null || !record.Payload.AsSpan().SequenceEqual(Payload(offset)))
                {
                    lock (failures)
                    {
                        failures.Add($"read {offset} below next {next} returned {(record is null ? "null" : "wrong bytes")}");
                    }
                }

                using var cursor = store.ReadLog(Log, offset, offset + 500);
                var expected = offset;
                while (cursor.MoveNext())
                {
                    if (cursor.Offset != expected || !cursor.Payload.SequenceEqual(Payload(expected)))
                    {
                        lock (failures)
                        {
                            failures.Add($"scan from {offset} broke at {expected}");
                        }

                        break;
                    }

                    expected++;
                }

                // A snapshot's KV tail never runs ahead of its log.
                var tail = await store.GetAsync("tail"u8.ToArray());
                var nextAfter = store.GetLogBounds(Log).Next;
                if (tail is not null && BitConverter.ToUInt64(tail) > nextAfter)
                {
                    lock (failures)
                    {
                        failures.Add($"kv tail {BitConverter.ToUInt64(tail)} ahead of log next {nextAfter}");
                    }
                }
            }
        })).ToArray();

        await Task.WhenAll(writers);
        done.Cancel();
        await Task.WhenAll(readers);
        Assert.Empty(failures);
        Assert.Equal((ulong)total, Math.Min(store.GetLogBounds(Log).Next, (ulong)total));
        var stats = store.GetStatistics();
        Assert.True(stats.Flushes > 3, $"flushes {stats.Flushes}");
        using var all = store.ReadLog(Log, 0);
        ulong count = 0;
        while (all.MoveNext())
        {
            Assert.Equal(count, all.Offset);
            count++;
        }

        Assert.Equal(store.GetLogBounds(Log).Next, count);
    }

    [Fact]
    public async Task Flush_completes_while_writers_never_pause()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { Durability = DurabilityMode.None, MemtableBytes = 1 << 20 });
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 3).Select(w => Task.Run(async () =>
        {
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                await store.PutAsync(BitConverter.GetBytes((w << 24) | i++), new byte[64]);
            }
        })).ToArray();

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (store.GetStatistics().UserBytesWritten == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Yield();
        }

        var before = store.GetStatistics().UserBytesWritten;
        Assert.True(before > 0, "writers never started");
        for (var round = 0; round < 5; round++)
        {
            await store.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));
        }

        var after = store.GetStatistics();
        stop.Cancel();
        await Task.WhenAll(writers);
        Assert.True(after.Flushes >= 1, $"flushes {after.Flushes}");
        Assert.True(after.UserBytesWritten > before, "writers stalled during the flushes");
    }
}
