using Pyralog.Storage.Native.Keys;
using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native.Tests;

/// <summary>
/// How log records are laid out in segments when many logs share a store: a busy log's records get segments of their
/// own that move down the levels without being rewritten; quiet logs share segments; small one-log segments are
/// merged with their neighbours as they go down, so a busy log does not keep a file per flush.
/// </summary>
public class LogSegmentLayoutTests
{
    private const int RecordBytes = 1024;

    private static PyramidOptions Options(long l1TargetBytes, long smallLogSegmentBytes = 32 << 10) => new()
    {
        BackgroundWork = false,
        MemtableBytes = 1 << 20,
        BlockBytes = 1024,
        TargetSegmentBytes = 64 << 10,
        SeparateLogSegmentBytes = 4 << 10,
        SmallLogSegmentBytes = smallLogSegmentBytes,
        L0CompactionTrigger = 4,
        L1TargetBytes = l1TargetBytes,
        RetentionMarkerBytes = 4 << 10, // markers in every flush: internal keys below the log space, as key/values are above it
    };

    [Fact]
    public async Task Busy_logs_get_segments_of_their_own_that_compaction_moves_without_rewriting()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, Options(l1TargetBytes: 1L << 30));
        const int logs = 4, rounds = 6, perRound = 8;
        var flushed = new HashSet<long>();
        for (var round = 0; round < rounds; round++)
        {
            await AppendRoundAsync(store, logs, round, perRound);
            await store.PutAsync(new byte[] { 0x7f }, new byte[] { (byte)round }); // overwritten each round: with the markers, keys on both sides of the log space that merge
            await store.FlushAsync();
            flushed.UnionWith(LogSegments(store.SegmentLayout()[0]).Select(s => s.FileNumber));
            store.CompactDue();
        }

        var statistics = store.GetStatistics();
        var layout = store.SegmentLayout();
        Assert.All(layout.SelectMany(l => l), s => Assert.Equal(s.MinKey[0], s.MaxKey[0])); // no segment spans two key spaces
        Assert.True(statistics.Compactions > 0);
        Assert.Empty(LogSegments(layout[0]));
        var moved = LogSegments(layout[1]);
        Assert.Equal(logs * rounds, moved.Count); // one per log per flush
        Assert.All(moved, s => Assert.NotNull(SingleLog(s)));
        Assert.Equal(flushed.Order(), moved.Select(s => s.FileNumber).Order()); // the very files flush wrote: none rewritten
        await AssertAllReadBackAsync(store, logs, rounds * perRound);
    }

    [Fact]
    public async Task Quiet_logs_share_a_segment_per_flush()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, Options(l1TargetBytes: 1L << 30));
        const int logs = 50;
        for (var round = 0; round < 3; round++)
        {
            await AppendRoundAsync(store, logs, round, perRound: 1); // 1 KiB per log: below SeparateLogSegmentBytes
            await store.FlushAsync();
        }

        var segments = store.SegmentLayout().SelectMany(LogSegments).ToList();
        Assert.Equal(3, segments.Count);
        Assert.All(segments, s => Assert.Null(SingleLog(s)));
        await AssertAllReadBackAsync(store, logs, 3);
    }

    [Fact]
    public async Task A_busy_logs_small_segments_are_merged_with_each_other_as_they_go_down()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, Options(l1TargetBytes: 64 << 10));
        const int logs = 4, rounds = 12, perRound = 8;
        for (var round = 0; round < rounds; round++)
        {
            await AppendRoundAsync(store, logs, round, perRound);
            await store.FlushAsync();
            store.CompactDue();
        }

        var statistics = store.GetStatistics();
        var layout = store.SegmentLayout();
        var segments = layout.Sum(l => LogSegments(l).Count);
        var deeper = layout.Skip(2).SelectMany(LogSegments).ToList();
        Assert.NotEmpty(deeper);
        Assert.All(deeper, s => Assert.NotNull(SingleLog(s))); // merged with their own log's neighbours only
        Assert.True(deeper.Average(s => s.SizeBytes) > 2 * layout[1].Where(s => SingleLog(s) is not null).Average(s => s.SizeBytes),
            "segments below L1 are not larger than the flushed ones");
        Assert.True(segments < logs * rounds, $"{segments} segments for {logs * rounds} flushed: small ones were not merged");

        // Each record is rewritten at most once per level below L1 it reached.
        Assert.True(statistics.CompactionBytesWritten <= statistics.FlushBytesWritten * (statistics.Levels.Count - 2),
            $"compaction wrote {statistics.CompactionBytesWritten} B for {statistics.FlushBytesWritten} B flushed");
        await AssertAllReadBackAsync(store, logs, rounds * perRound);
    }

    [Fact]
    public async Task A_busy_logs_segments_of_the_small_size_or_more_go_down_the_levels_without_a_rewrite()
    {
        using var dir = new TempDirectory();

        // Each flush gives each log a segment of about 8 KiB: not small at 4 KiB, so pushing them down moves the files.
        await using var store = PyramidStore.Open(dir.Path, Options(l1TargetBytes: 64 << 10, smallLogSegmentBytes: 4 << 10));
        const int logs = 4, rounds = 12, perRound = 8;
        var flushed = new HashSet<long>();
        for (var round = 0; round < rounds; round++)
        {
            await AppendRoundAsync(store, logs, round, perRound);
            await store.FlushAsync();
            flushed.UnionWith(LogSegments(store.SegmentLayout()[0]).Select(s => s.FileNumber));
            store.CompactDue();
        }

        var layout = store.SegmentLayout();
        var all = layout.SelectMany(LogSegments).ToList();
        Assert.NotEmpty(layout.Skip(2).SelectMany(LogSegments)); // pushed below L1
        Assert.All(all, s => Assert.True(s.SizeBytes >= 4 << 10, $"a flushed segment of {s.SizeBytes} B"));
        Assert.Equal(logs * rounds, flushed.Count);
        Assert.Equal(flushed.Order(), all.Select(s => s.FileNumber).Order()); // the very files flush wrote, at every level
        await AssertAllReadBackAsync(store, logs, rounds * perRound);
    }

    private static List<SegmentMetadata> LogSegments(SegmentMetadata[] level) => [.. level.Where(s => KeyCodec.IsLogKey(s.MinKey))];

    private static ulong? SingleLog(SegmentMetadata segment) =>
        KeyCodec.IsLogKey(segment.MaxKey) && KeyCodec.ReadLogId(segment.MinKey) == KeyCodec.ReadLogId(segment.MaxKey) ? KeyCodec.ReadLogId(segment.MinKey) : null;

    private static async Task AppendRoundAsync(PyramidStore store, int logs, int round, int perRound)
    {
        for (ulong log = 1; log <= (ulong)logs; log++)
        {
            var records = new AppendRecord[perRound];
            for (var i = 0; i < perRound; i++)
            {
                var offset = (ulong)(round * perRound + i);
                records[i] = new AppendRecord(1, offset, Payload(log, offset));
            }

            await store.AppendAsync(log, records);
        }
    }

    private static async Task AssertAllReadBackAsync(PyramidStore store, int logs, int records)
    {
        for (ulong log = 1; log <= (ulong)logs; log++)
        {
            Assert.Equal((ulong)records, store.GetLogBounds(log).Next);
            using var cursor = store.ReadLog(log, 0);
            ulong expected = 0;
            while (cursor.MoveNext())
            {
                Assert.Equal(expected, cursor.Offset);
                Assert.Equal(Payload(log, expected), cursor.Payload.ToArray());
                expected++;
            }

            Assert.Equal((ulong)records, expected);
            Assert.Equal(Payload(log, (ulong)records / 2), (await store.ReadAsync(log, (ulong)records / 2))!.Payload);

            // From the middle: the cursor seeks into a level holding many segments (of this log and others).
            using var middle = store.ReadLog(log, (ulong)records / 2 + 1);
            for (expected = (ulong)records / 2 + 1; middle.MoveNext(); expected++)
            {
                Assert.Equal(expected, middle.Offset);
                Assert.Equal(Payload(log, expected), middle.Payload.ToArray());
            }

            Assert.Equal((ulong)records, expected);
        }
    }

    private static byte[] Payload(ulong log, ulong offset)
    {
        var payload = new byte[RecordBytes];
        BitConverter.TryWriteBytes(payload, log);
        BitConverter.TryWriteBytes(payload.AsSpan(8), offset);
        payload[^1] = (byte)(log ^ offset);
        return payload;
    }
}
