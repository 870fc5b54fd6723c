using Pyralog.Storage.Native.Log;
using System.Text;

namespace Pyralog.Storage.Native.Tests;

public class StoreApiTests
{
    private const ulong Log = 1;

    private static readonly PyramidOptions Small = new()
    {
        BackgroundWork = false,
        MemtableBytes = 64 << 10,
        BlockBytes = 1024,
        TargetSegmentBytes = 64 << 10,
        L1TargetBytes = 64 << 10,
    };

    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    private static string Text(byte[]? b) => b is null ? "<null>" : Encoding.UTF8.GetString(b);

    [Fact]
    public async Task Log_appends_read_back_across_flush_compaction_and_reopen()
    {
        using var dir = new TempDirectory();
        await using (var store = PyramidStore.Open(dir.Path, Small))
        {
            for (ulong i = 0; i < 3000; i += 100)
            {
                var batch = Enumerable.Range(0, 100).Select(k => new AppendRecord(1 + (i / 1000), i + (ulong)k, Bytes($"payload-{i + (ulong)k}"))).ToArray();
                await store.AppendAsync(Log, batch);
                if (i == 1500)
                {
                    await store.FlushAsync();
                }
            }

            await store.CompactAsync();
            Assert.Equal(3000ul, store.GetLogBounds(Log).Next);
            var record = await store.ReadAsync(Log, 1234);
            Assert.Equal(new LogRecord(2, 1234, Bytes("payload-1234")).Payload, record!.Payload);
            Assert.Equal(2ul, record.Epoch);
        }

        await using (var store = PyramidStore.Open(dir.Path, Small))
        {
            Assert.Equal(0ul, store.GetLogBounds(Log).First);
            Assert.Equal(3000ul, store.GetLogBounds(Log).Next);
            using var cursor = store.ReadLog(Log, 2990);
            var seen = new List<ulong>();
            while (cursor.MoveNext())
            {
                Assert.Equal($"payload-{cursor.Offset}", Encoding.UTF8.GetString(cursor.Payload));
                seen.Add(cursor.Offset);
            }

            Assert.Equal(Enumerable.Range(2990, 10).Select(i => (ulong)i), seen);
            Assert.Null(await store.ReadAsync(Log, 3000));
        }
    }

    [Fact]
    public async Task A_cursor_past_its_end_keeps_answering_false_and_has_no_record_to_read()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, Small);
        await store.AppendAsync(1, new[] { new AppendRecord(1, 0, new byte[] { 0 }), new AppendRecord(1, 1, new byte[] { 1 }), new AppendRecord(1, 2, new byte[] { 2 }) });

        using (var log = store.ReadLog(1, 0))
        {
            Assert.Throws<InvalidOperationException>(() => log.Payload.Length); // before the first MoveNext
            for (var i = 0; i < 3; i++)
            {
                Assert.True(log.MoveNext());
            }

            Assert.False(log.MoveNext());
            Assert.False(log.MoveNext());
            Assert.False(log.MoveNext());
            Assert.Equal("the cursor is past its last record", Assert.Throws<InvalidOperationException>(() => log.Payload.Length).Message);
        }

        using (var empty = store.ReadLog(7, 0))
        {
            Assert.False(empty.MoveNext());
            Assert.False(empty.MoveNext());
        }

        using var kv = store.ScanKvPrefix("none"u8);
        Assert.False(kv.MoveNext());
        Assert.False(kv.MoveNext());
        Assert.Throws<InvalidOperationException>(() => kv.Key.Length);
        Assert.Throws<InvalidOperationException>(() => kv.Value.Length);
    }

    [Fact]
    public async Task A_scan_bound_longer_than_any_key_is_refused()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, Small);
        var tooLong = new byte[WriteBatch.MaxKeyBytes + 1];
        Assert.Equal("prefix", Assert.Throws<ArgumentException>(() => store.ScanKvPrefix(tooLong)).ParamName);
        Assert.Equal("startInclusive", Assert.Throws<ArgumentException>(() => store.ScanKv(tooLong, "z"u8)).ParamName);
        Assert.Equal("endExclusive", Assert.Throws<ArgumentException>(() => store.ScanKv("a"u8, tooLong)).ParamName);
        using var longest = store.ScanKvPrefix(new byte[WriteBatch.MaxKeyBytes]);
        Assert.False(longest.MoveNext());
    }

    [Fact]
    public async Task Appends_must_be_dense_and_bad_input_names_the_problem()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, Small);
        await store.AppendAsync(Log, 1, 5, Bytes("first")); // a new log adopts the first offset
        Assert.Equal(5ul, store.GetLogBounds(Log).First);
        var gap = await Assert.ThrowsAsync<ArgumentException>(async () => await store.AppendAsync(Log, 1, 7, Bytes("gap")));
        Assert.Contains("next offset is 6", gap.Message);
        using var batch = new WriteBatch();
        batch.Append(Log, 1, 6, Bytes("a"));
        var lowerEpoch = Assert.Throws<ArgumentException>(() => batch.Append(Log, 0, 7, Bytes("b")));
        Assert.Contains("epoch", lowerEpoch.Message);
        batch.Append(2, 1, 0, Bytes("other log"));
        batch.Append(Log, 1, 8, Bytes("b")); // a gap in log 1: refused when written, with the other log's record
        var notDense = await Assert.ThrowsAsync<ArgumentException>(async () => await store.WriteAsync(batch));
        Assert.Contains("log 1 at offset 8 but the log's next offset is 7", notDense.Message);
        Assert.Equal(new LogBounds(5, 6), store.GetLogBounds(Log)); // nothing of the batch was written
        Assert.Equal(default, store.GetLogBounds(2));
        Assert.DoesNotContain(2ul, store.GetLogIds()); // a refused batch leaves no trace, not even an empty log
        batch.Clear();
        batch.Append(2, 1, 0, Bytes("other log"));
        await store.WriteAsync(batch); // the refused batch reserved nothing
        Assert.Equal(new LogBounds(0, 1), store.GetLogBounds(2));
        Assert.Throws<ArgumentException>(() => batch.Put([], Bytes("v")));
        Assert.Contains("PyramidOptions.MemtableBytes must be between 65536 and 1073741824 (was 10).", Assert.Throws<ArgumentException>(() => new PyramidOptions { MemtableBytes = 10 }.Validate()).Message);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await store.TruncateSuffixAsync(Log, 2));

        // A log emptied by a truncation continues at the truncation point, in the same batch or a later one.
        batch.Clear();
        batch.TruncateSuffix(Log, 5);
        batch.Append(Log, 2, 7, Bytes("gap"));
        var emptied = await Assert.ThrowsAsync<ArgumentException>(async () => await store.WriteAsync(batch));
        Assert.Contains("log 1 at offset 7 but the log's next offset is 5", emptied.Message);
        await store.TruncateSuffixAsync(Log, 5);
        Assert.Equal(new LogBounds(5, 5), store.GetLogBounds(Log));
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.AppendAsync(Log, 2, 7, Bytes("gap")));
        await store.AppendAsync(Log, 2, 5, Bytes("continues"));
        Assert.Equal(new LogBounds(5, 6), store.GetLogBounds(Log));
    }

    [Fact]
    public async Task Truncate_suffix_then_reappend_with_new_epoch_survives_flush_and_reopen()
    {
        using var dir = new TempDirectory();
        await using (var store = PyramidStore.Open(dir.Path, Small))
        {
            await store.AppendAsync(Log, Enumerable.Range(0, 10).Select(i => new AppendRecord(1, (ulong)i, Bytes($"old-{i}"))).ToArray());
            await store.FlushAsync();
            await store.TruncateSuffixAsync(Log, 6);
            Assert.Equal(6ul, store.GetLogBounds(Log).Next);
            Assert.Null(await store.ReadAsync(Log, 7));
            await store.AppendAsync(Log, Enumerable.Range(6, 2).Select(i => new AppendRecord(2, (ulong)i, Bytes($"new-{i}"))).ToArray());
        }

        await using (var store = PyramidStore.Open(dir.Path, Small))
        {
            Assert.Equal(8ul, store.GetLogBounds(Log).Next);
            Assert.Equal("old-5", Text((await store.ReadAsync(Log, 5))!.Payload));
            Assert.Equal("new-6", Text((await store.ReadAsync(Log, 6))!.Payload));
            Assert.Equal(2ul, (await store.ReadAsync(Log, 7))!.Epoch);
            Assert.Null(await store.ReadAsync(Log, 8));
            await store.CompactAsync();
            Assert.Equal("new-7", Text((await store.ReadAsync(Log, 7))!.Payload));
            Assert.Null(await store.ReadAsync(Log, 9));
        }
    }

    [Fact]
    public async Task Truncate_prefix_hides_records_and_compaction_drops_them()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, Small);
        await store.AppendAsync(Log, Enumerable.Range(0, 2000).Select(i => new AppendRecord(1, (ulong)i, new byte[100])).ToArray());
        await store.FlushAsync();
        await store.TruncatePrefixAsync(Log, 1500);
        Assert.Null(await store.ReadAsync(Log, 1499));
        Assert.NotNull(await store.ReadAsync(Log, 1500));
        await store.CompactAsync();
        var stats = store.GetStatistics();
        Assert.Equal(500, stats.Levels.Sum(l => l.LogRecords));
        await store.TruncatePrefixAsync(Log, 5000); // beyond the end: the log restarts there
        Assert.Equal(5000ul, store.GetLogBounds(Log).First);
        Assert.Equal(5000ul, store.GetLogBounds(Log).Next);
        await store.AppendAsync(Log, 3, 5000, Bytes("restart"));
        Assert.Equal("restart", Text((await store.ReadAsync(Log, 5000))!.Payload));
    }

    [Fact]
    public async Task Key_value_put_get_delete_and_scans_across_memtable_and_segments()
    {
        using var dir = new TempDirectory();
        await using (var store = PyramidStore.Open(dir.Path, Small))
        {
            for (var i = 0; i < 500; i++)
            {
                await store.PutAsync(Bytes($"user/{i:D4}"), Bytes($"v{i}"));
            }

            await store.FlushAsync();
            await store.DeleteAsync(Bytes("user/0007"));
            await store.PutAsync(Bytes("user/0008"), Bytes("changed"));
            await store.PutAsync(Bytes("zzz"), Bytes("last"));
            Assert.Null(await store.GetAsync(Bytes("user/0007")));
            Assert.Equal("changed", Text(await store.GetAsync(Bytes("user/0008"))));
            Assert.Equal("v9", Text(await store.GetAsync(Bytes("user/0009"))));
        }

        await using (var store = PyramidStore.Open(dir.Path, Small))
        {
            using (var scan = store.ScanKvPrefix(Bytes("user/000")))
            {
                var keys = new List<string>();
                while (scan.MoveNext())
                {
                    keys.Add(Encoding.UTF8.GetString(scan.Key) + "=" + Encoding.UTF8.GetString(scan.Value));
                }

                Assert.Equal(["user/0000=v0", "user/0001=v1", "user/0002=v2", "user/0003=v3", "user/0004=v4", "user/0005=v5", "user/0006=v6", "user/0008=changed", "user/0009=v9"], keys);
            }

            await store.CompactAsync();
            using var range = store.ScanKv(Bytes("user/0498"), Bytes("zzzz"));
            var rest = new List<string>();
            while (range.MoveNext())
            {
                rest.Add(Encoding.UTF8.GetString(range.Key));
            }

            Assert.Equal(["user/0498", "user/0499", "zzz"], rest);
            Assert.Null(await store.GetAsync(Bytes("user/0007")));
            Assert.Equal(500, store.GetStatistics().Levels.Sum(l => l.Entries)); // 499 live user keys + "zzz"; the tombstone is gone
        }
    }

    [Fact]
    public async Task Write_batch_spanning_both_spaces_is_atomic_on_recovery()
    {
        using var dir = new TempDirectory();
        string wal;
        await using (var store = PyramidStore.Open(dir.Path, Small))
        {
            using var first = new WriteBatch();
            first.Append(Log, 1, 0, Bytes("entry-0"));
            first.Put(Bytes("raft/commit"), Bytes("0"));
            await store.WriteAsync(first);
            using var second = new WriteBatch();
            second.Append(Log, 1, 1, Bytes("entry-1"));
            second.Put(Bytes("raft/commit"), Bytes("1"));
            await store.WriteAsync(second);
            wal = Directory.GetFiles(dir.Path, "wal-*.log").Single();
        }

        // Tear the second batch's frame: neither its record nor its put may survive.
        var bytes = await File.ReadAllBytesAsync(wal);
        var end = Array.FindLastIndex(bytes, b => b != 0) + 1; // the file is preallocated with zeros after the frames
        await File.WriteAllBytesAsync(wal, bytes.AsSpan(0, end - 5).ToArray());
        await using (var store = PyramidStore.Open(dir.Path, Small))
        {
            Assert.Equal(1ul, store.GetLogBounds(Log).Next);
            Assert.Equal("0", Text(await store.GetAsync(Bytes("raft/commit"))));
        }
    }

    [Fact]
    public async Task Opening_a_store_twice_is_refused_with_a_clear_message()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, Small);
        var error = Assert.Throws<IOException>(() => PyramidStore.Open(dir.Path, Small));
        Assert.Contains(dir.Path, error.Message);
    }

    [Fact]
    public async Task Statistics_report_levels_write_amplification_and_cache_hits()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, Small);
        for (var round = 0; round < 6; round++)
        {
            await store.AppendAsync(Log, Enumerable.Range(round * 500, 500).Select(i => new AppendRecord(1, (ulong)i, new byte[200])).ToArray());
            await store.FlushAsync();
        }

        await store.CompactAsync();
        for (var i = 0; i < 20; i++)
        {
            await store.ReadAsync(Log, 42);
        }

        var stats = store.GetStatistics();
        Assert.True(stats.WriteAmplification > 1.0, $"write amplification {stats.WriteAmplification}");
        // The block's first read is not cached (admitted on its second miss, see BlockCache); the 18 after it hit.
        Assert.Equal(18, stats.BlockCacheHits);
        Assert.Equal(3000, stats.Levels.Sum(l => l.LogRecords));
        Assert.True(stats.Flushes >= 6);
    }
}
