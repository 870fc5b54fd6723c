using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Pyralog.Storage.Native.Tests;

/// <summary>
/// Segments and recovered WAL files are read in place through raw pointers into their mappings. These
/// tests pin down who keeps a mapping alive: a read never touches memory that compaction, a flush,
/// <see cref="PyramidStore.DisposeAsync"/> or the garbage collector has unmapped.
/// </summary>
public class MappingLifetimeTests
{
    private const ulong Log = 1;

    private static readonly PyramidOptions Manual = new()
    {
        BackgroundWork = false,
        Durability = DurabilityMode.None,
        MemtableBytes = 64 << 10,
        BlockBytes = 1024,
        TargetSegmentBytes = 64 << 10,
        L1TargetBytes = 64 << 10,
    };

    private static byte[] Payload(ulong offset)
    {
        var bytes = new byte[16 + (int)(offset % 97)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, offset);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), offset * 0x9E3779B97F4A7C15UL);
        return bytes;
    }

    private static async Task AppendAsync(PyramidStore store, ulong from, int count)
    {
        for (var at = from; at < from + (ulong)count; at += 100)
        {
            var batch = Enumerable.Range(0, (int)Math.Min(100, from + (ulong)count - at)).Select(i => new AppendRecord(1, at + (ulong)i, Payload(at + (ulong)i))).ToArray();
            await store.AppendAsync(Log, batch);
        }
    }

    private static int SegmentFiles(string directory) => Directory.GetFiles(directory, "seg-*.pyr").Length;

    [Fact]
    public async Task Reads_after_dispose_throw_instead_of_reading_unmapped_segments()
    {
        using var dir = new TempDirectory();
        var store = PyramidStore.Open(dir.Path, Manual);
        await AppendAsync(store, 0, 500);
        await store.PutAsync("k"u8.ToArray(), "v"u8.ToArray());
        await store.FlushAsync(); // everything now lives in mapped segments only
        await store.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.GetAsync("k"u8.ToArray()));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.ReadAsync(Log, 10));
        Assert.Throws<ObjectDisposedException>(() => store.ReadLog(Log, 0));
        Assert.Throws<ObjectDisposedException>(() => store.ScanKv("a"u8, "z"u8));
        Assert.Throws<ObjectDisposedException>(() => store.ScanKvPrefix("k"u8));
        Assert.Throws<ObjectDisposedException>(() => store.GetStatistics());
    }

    [Fact]
    public async Task A_disposed_cursor_throws_instead_of_reading_the_segment_compaction_deleted_under_it()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, Manual);
        await AppendAsync(store, 0, 500);
        await store.PutAsync("k"u8.ToArray(), "v"u8.ToArray());
        await store.FlushAsync();
        await AppendAsync(store, 500, 500);
        await store.FlushAsync();
        var flushed = Directory.GetFiles(dir.Path, "seg-*.pyr");

        var log = store.ReadLog(Log, 10);
        var kv = store.ScanKv("a"u8, "z"u8);
        Assert.True(log.MoveNext());
        Assert.True(kv.MoveNext());
        await store.CompactAsync(); // retires every flushed segment; the cursors still pin them
        Assert.All(flushed, path => Assert.True(File.Exists(path), $"{path} deleted while a cursor pins it"));
        Assert.Equal(Payload(10), log.Payload.ToArray());
        Assert.Equal("v"u8.ToArray(), kv.Value.ToArray());

        log.Dispose();
        kv.Dispose();
        Assert.All(flushed, path => Assert.False(File.Exists(path), $"{path} outlived its last reader"));
        Assert.Throws<ObjectDisposedException>(() => log.Payload.Length);
        Assert.Throws<ObjectDisposedException>(() => kv.Key.Length);
        Assert.Throws<ObjectDisposedException>(() => kv.Value.Length);
    }

    [Fact]
    public async Task A_retired_segment_that_cannot_be_deleted_stays_an_orphan_and_harms_neither_its_last_reader_nor_the_store()
    {
        using var dir = new TempDirectory();
        string orphan;
        var device = new PowerLoss.PowerLossDevice();
        var options = new PyramidOptions
        {
            BackgroundWork = false, Durability = DurabilityMode.None, MemtableBytes = 64 << 10, BlockBytes = 1024,
            TargetSegmentBytes = 64 << 10, L1TargetBytes = 64 << 10, Device = device,
        };
        await using (var store = PyramidStore.Open(dir.Path, options))
        {
            await AppendAsync(store, 0, 500);
            await store.FlushAsync();
            await AppendAsync(store, 500, 500);
            await store.FlushAsync();
            var flushed = Directory.GetFiles(dir.Path, "seg-*.pyr");

            var log = store.ReadLog(Log, 10);
            Assert.True(log.MoveNext());
            await store.CompactAsync(); // retires the flushed segments; the cursor pins them
            device.FailNextDelete("seg-");
            log.Dispose(); // the last reference: one delete fails, and the cursor's Dispose does not
            orphan = Assert.Single(flushed, File.Exists);

            await AppendAsync(store, 1000, 500); // the store goes on
            await store.FlushAsync();
            await store.CompactAsync();
            Assert.Equal(Payload(1200), (await store.ReadAsync(Log, 1200))!.Payload);
        }

        await using (var reopened = PyramidStore.Open(dir.Path, Manual))
        {
            Assert.False(File.Exists(orphan), $"{orphan} outlived the next open");
            Assert.Equal(Payload(10), (await reopened.ReadAsync(Log, 10))!.Payload);
        }
    }

    /// <summary>
    /// A WAL file whose frames are all flushed and that cannot be deleted (a replayed one is deleted, not recycled) is left
    /// for the next open, as a segment is: it stops neither the flush that retired it nor the store.
    /// </summary>
    [Fact]
    public async Task A_flushed_wal_file_that_cannot_be_deleted_stops_neither_the_store_nor_its_next_open()
    {
        using var dir = new TempDirectory();
        var device = new PowerLoss.PowerLossDevice();
        var options = new PyramidOptions { BackgroundWork = false, Durability = DurabilityMode.None, MemtableBytes = 64 << 10, Device = device };
        await using (var store = PyramidStore.Open(dir.Path, options))
        {
            await AppendAsync(store, 0, 100);
        }

        await using (var store = PyramidStore.Open(dir.Path, options))
        {
            device.FailNextDelete("wal-");
            await store.FlushAsync(); // flushes what the replayed WAL file held, then deletes that file: refused
            Assert.False(device.DeleteFailurePending, "the replayed WAL file was not deleted");
            await AppendAsync(store, 100, 100); // the store goes on
            await store.FlushAsync();
            Assert.Equal(Payload(150), (await store.ReadAsync(Log, 150))!.Payload);
        }

        await using (var reopened = PyramidStore.Open(dir.Path, Manual))
        {
            Assert.Equal(Payload(10), (await reopened.ReadAsync(Log, 10))!.Payload);
            Assert.Equal(200ul, reopened.GetLogBounds(Log).Next);
        }
    }

    [Fact]
    public async Task A_payload_read_from_a_recovered_wal_stays_mapped_after_its_memtable_is_flushed_and_collected()
    {
        using var dir = new TempDirectory();
        await using (var store = PyramidStore.Open(dir.Path, Manual))
        {
            await AppendAsync(store, 0, 200);
        }

        await using (var store = PyramidStore.Open(dir.Path, Manual))
        {
            Assert.Equal(0, SegmentFiles(dir.Path)); // offset 7 is read in place from the mapped WAL
            Assert.Equal(Payload(7), ReadThenFlushAndCollect(store, 7));
        }
    }

    /// <summary>Reads a payload, then lets go of everything that references the recovered memtable, as
    /// <c>ReadAsync</c> may while it still copies a record out: the cursor is unreachable once
    /// <c>Payload</c> returned, and the flush unpublishes the memtable and deletes its WAL file. Cursor and
    /// flush live in frames of their own, so no stack slot here keeps either alive. The cursor is never
    /// disposed: its snapshot keeps what it read pinned.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static byte[] ReadThenFlushAndCollect(PyramidStore store, ulong offset)
    {
        var payload = PayloadOfAbandonedCursor(store, offset);
        Flush(store);
        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        return payload.ToArray();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ReadOnlySpan<byte> PayloadOfAbandonedCursor(PyramidStore store, ulong offset)
    {
        var cursor = store.ReadLog(Log, offset);
        Assert.True(cursor.MoveNext());
        return cursor.Payload;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Flush(PyramidStore store) => store.FlushAsync().GetAwaiter().GetResult();

    [Fact]
    public async Task Reads_of_a_recovered_log_stay_correct_while_flush_compaction_and_the_gc_retire_its_mappings()
    {
        using var dir = new TempDirectory();
        var live = new PyramidOptions
        {
            Durability = DurabilityMode.None,
            MemtableBytes = 64 << 10,
            MaxImmutableMemtables = 8,
            BlockBytes = 1024,
            TargetSegmentBytes = 64 << 10,
            L1TargetBytes = 64 << 10,
            L0CompactionTrigger = 2,
            CompactionBytesPerSecond = 0,
            BlockCacheBytes = 0,
        };
        const int RecordsPerRound = 4_000;
        var deadline = DateTime.UtcNow.AddSeconds(8);
        var failures = new List<string>();
        var random = new Random(20261125);
        for (var round = 0; round < 3 && DateTime.UtcNow < deadline; round++)
        {
            // Leave records in the WAL only, so the next open replays them into memtables that point into
            // the mapped files; background flush and compaction then retire them under the readers.
            await using (var store = PyramidStore.Open(dir.Path, Manual))
            {
                await AppendAsync(store, store.GetLogBounds(Log).Next, RecordsPerRound);
            }

            await using (var store = PyramidStore.Open(dir.Path, live))
            {
                var next = store.GetLogBounds(Log).Next;
                using var stop = new CancellationTokenSource();
                var seeds = Enumerable.Range(0, 2).Select(_ => random.Next()).ToArray();
                var readers = seeds.Select(seed => Task.Run(async () =>
                {
                    var rng = new Random(seed);
                    for (var reads = 0; reads < 20_000 && !stop.IsCancellationRequested; reads++)
                    {
                        var offset = (ulong)rng.NextInt64((long)next);
                        var record = await store.ReadAsync(Log, offset);
                        using var cursor = store.ReadLog(Log, offset, offset + 50);
                        var expected = offset;
                        var intact = record is not null && record.Payload.AsSpan().SequenceEqual(Payload(offset));
                        while (intact && cursor.MoveNext())
                        {
                            intact = cursor.Offset == expected && cursor.Payload.SequenceEqual(Payload(expected));
                            expected++;
                        }

                        if (!intact)
                        {
                            lock (failures)
                            {
                                failures.Add($"round {round}: read from {offset} returned wrong bytes at {expected}");
                            }

                            return;
                        }
                    }
                })).ToArray();
                var collector = Task.Run(async () =>
                {
                    // Bounded, and paced so the other test classes running alongside are not starved.
                    for (var collections = 0; collections < 500 && !stop.IsCancellationRequested; collections++)
                    {
                        GC.Collect();
                        GC.WaitForPendingFinalizers();
                        await Task.Delay(1);
                    }
                });

                await store.CompactAsync();
                stop.CancelAfter(TimeSpan.FromMilliseconds(300));
                await Task.WhenAll(readers);
                await stop.CancelAsync();
                await collector;
                Assert.Equal(0, store.GetStatistics().ImmutableMemtables);
            }
        }

        Assert.Empty(failures);
    }
}
