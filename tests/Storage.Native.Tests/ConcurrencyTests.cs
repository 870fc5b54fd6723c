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

        const int maxBatch = 199;
        var writers = Enumerable.Range(0, 2).Select(writer => Task.Run(async () =>
        {
            // Two writers race for offsets; the loser of a race retries at the new end.
            var random = new Random(writer + 1);
            while (true)
            {
                var next = store.GetLogBounds(Log).Next;
                if (next >= total)
                {
                    return;
                }

                var count = random.Next(1, maxBatch + 1);
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
                catch (ArgumentException e) when (e.Message.StartsWith($"append to log {Log} at offset {next} but the log's next offset is ", StringComparison.Ordinal))
                {
                    // Lost the race for this offset: the other writer's batch took it, and once that batch is published
                    // the log ends past it. Waited for (bounded), so a store that refuses every append fails here
                    // instead of spinning, and the retry does not spin on the same offset meanwhile.
                    var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
                    while (store.GetLogBounds(Log).Next <= next)
                    {
                        Assert.True(DateTime.UtcNow < deadline, $"writer {writer}: the append at {next} was refused ({e.Message}) but no other write took the offset within 10 s");
                        await Task.Delay(1);
                    }
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

        try
        {
            await Task.WhenAll(writers);
        }
        finally
        {
            done.Cancel(); // the readers stop also when a writer failed
        }

        await Task.WhenAll(readers);
        Assert.Empty(failures);

        // The writers stop once the log reaches total; the last batch started below it and held at most maxBatch records.
        var end = store.GetLogBounds(Log).Next;
        Assert.InRange(end, (ulong)total, (ulong)(total - 1 + maxBatch));

        // Each accepted batch put the log's end in the same batch; a refused batch wrote nothing, its put included.
        var tail = await store.GetAsync("tail"u8.ToArray());
        Assert.True(tail is not null && BitConverter.ToUInt64(tail) == end, $"kv tail {(tail is null ? "null" : BitConverter.ToUInt64(tail))}, log next {end}");
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
