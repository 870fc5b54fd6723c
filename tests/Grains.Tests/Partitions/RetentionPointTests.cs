using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Partitions;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>Where the leader's retention check says a partition should start, and what applying the command does.</summary>
public sealed class RetentionPointTests : IAsyncLifetime
{
    private const ulong StoreLog = 5 << 24;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"pyralog-retention-point-{Guid.NewGuid():N}");
    private PyramidStore _store = null!;
    private PartitionState _state = null!;
    private long _index;

    // Entry i (Raft index i + 2) holds offsets 2i and 2i+1, appended at time 1000 * (i + 1); every entry has EntryBytes.
    private static readonly int EntryBytes = Entry(0, 0).Data.Length;

    public async Task InitializeAsync()
    {
        _store = PyramidStore.Open(_directory);
        _state = await PartitionState.LoadAsync(_store, StoreLog);
        await LogAndApplyAsync(new LogEntry(++_index, 1, EntryType.Normal, ReadOnlyMemory<byte>.Empty));
        for (var i = 0; i < 10; i++)
        {
            await LogAndApplyAsync(Entry(++_index, i));
        }
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void Age_keeps_the_first_entry_appended_at_or_after_the_cutoff()
    {
        Assert.Equal((ulong)(10 * EntryBytes), _state.RetainedBytes);
        Assert.Equal(0ul, Point(cutoffMs: 1000, maxBytes: null)); // nothing older than the first entry
        Assert.Equal(6ul, Point(cutoffMs: 3500, maxBytes: null)); // entries at 1000, 2000, 3000 go
        Assert.Equal(6ul, Point(cutoffMs: 4000, maxBytes: null)); // an entry exactly at the cutoff stays
        Assert.Equal(20ul, Point(cutoffMs: 10_001, maxBytes: null)); // all of it
    }

    [Fact]
    public void Bytes_keep_the_newest_entries_that_fit_and_always_the_newest_one()
    {
        Assert.Equal(0ul, Point(cutoffMs: null, maxBytes: 10 * EntryBytes));
        Assert.Equal(2ul, Point(cutoffMs: null, maxBytes: (10 * EntryBytes) - 1));
        Assert.Equal(14ul, Point(cutoffMs: null, maxBytes: 3 * EntryBytes));
        Assert.Equal(18ul, Point(cutoffMs: null, maxBytes: EntryBytes - 1)); // the newest entry alone is over: it stays
        Assert.Equal(14ul, Point(cutoffMs: 2500, maxBytes: 3 * EntryBytes)); // both: the later point
    }

    [Fact]
    public void A_step_drops_about_the_cap_and_says_so()
    {
        var point = _state.RetentionPoint(null, EntryBytes, maxDropBytes: (ulong)(3 * EntryBytes), out var capped);
        Assert.Equal((6ul, true), (point, capped));
        point = _state.RetentionPoint(null, EntryBytes, maxDropBytes: (ulong)(3 * EntryBytes) + 1, out capped);
        Assert.Equal((8ul, true), (point, capped)); // the first entry starting at or after the cap
        point = _state.RetentionPoint(null, 8 * EntryBytes, maxDropBytes: (ulong)(3 * EntryBytes), out capped);
        Assert.Equal((4ul, false), (point, capped));
    }

    [Fact]
    public async Task Applying_a_retention_command_moves_the_first_offset_to_its_entry_and_never_back()
    {
        await LogAndApplyAsync(new LogEntry(++_index, 1, EntryType.Normal, RetentionCommand.Encode(5))); // inside entry 2 (offsets 4-5)
        Assert.Equal(4ul, _state.FirstOffset);
        Assert.Equal((ulong)(8 * EntryBytes), _state.RetainedBytes);
        Assert.Equal((4L, 4ul, 3000L), _state.Locate(4));
        await LogAndApplyAsync(new LogEntry(++_index, 1, EntryType.Normal, RetentionCommand.Encode(2)));
        Assert.Equal(4ul, _state.FirstOffset);
        var (index, data) = _state.TakeCompaction(RaftSnapshot.Empty)!.Value;
        Assert.Equal(3L, index); // the entry before the one holding offset 4
        Assert.Null(_state.TakeCompaction(RaftSnapshot.Empty)); // taken once

        // The image is the state at index 3: two entries applied, nothing before offset 4 readable.
        var snapshot = new RaftSnapshot(index, 1, ClusterConfig.Of(1), data);
        var restored = await PartitionState.LoadAsync(_store, 6 << 24);
        restored.Restore(snapshot);
        Assert.Equal((4ul, 4ul, 0ul, 2000L), (restored.FirstOffset, restored.NextOffset, restored.RetainedBytes, restored.LastAppendTimeMs));
        Assert.Equal((ulong)(2 * EntryBytes), restored.TotalBytes);

        await LogAndApplyAsync(new LogEntry(++_index, 1, EntryType.Normal, RetentionCommand.Encode(99)));
        Assert.Equal((20ul, 20ul, 0ul), (_state.FirstOffset, _state.NextOffset, _state.RetainedBytes));
        var all = _state.TakeCompaction(snapshot)!.Value; // from the previous snapshot on
        Assert.Equal(_index - 1, all.Index); // up to the entry before the command
        restored.Restore(new RaftSnapshot(all.Index, 1, ClusterConfig.Of(1), all.Data));
        Assert.Equal((20ul, 20ul, 10_000L, _state.TotalBytes), (restored.FirstOffset, restored.NextOffset, restored.LastAppendTimeMs, restored.TotalBytes));
    }

    /// <summary>Writes the entry to the store log (where a compaction replays it from), then applies it.</summary>
    private async Task LogAndApplyAsync(LogEntry entry)
    {
        using (var write = new WriteBatch())
        {
            write.Append(StoreLog, (ulong)entry.Term, (ulong)entry.Index, [(byte)entry.Type, .. entry.Data.Span]);
            await _store.WriteAsync(write);
        }

        _state.Apply(entry);
    }

    private ulong Point(long? cutoffMs, long? maxBytes)
    {
        var point = _state.RetentionPoint(cutoffMs, maxBytes, ulong.MaxValue, out var capped);
        Assert.False(capped);
        return point;
    }

    private static LogEntry Entry(long index, int i) =>
        new(index, 1, EntryType.Normal, RecordBatchCodec.Encode([new ProducerRecord(null, [(byte)i]), new ProducerRecord(null, [(byte)i])], 1024,
            new BatchHeader(1000L * (i + 1), 0, 0)));
}
