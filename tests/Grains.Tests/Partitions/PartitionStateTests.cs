using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Partitions;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>Epochs and dense offsets from the committed log; the offset index and applied state survive a reload.</summary>
public sealed class PartitionStateTests : IDisposable
{
    private const ulong StoreLog = 3 << 24;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"pyralog-partition-state-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Offsets_are_dense_across_entries_epochs_start_at_each_leaders_no_op_and_reloading_restores_both()
    {
        await using var store = PyramidStore.Open(_directory);
        var state = await PartitionState.LoadAsync(store, StoreLog);
        Assert.Null(state.Apply(new LogEntry(1, 1, EntryType.Config, ClusterConfig.Of(1).Encode())));
        Assert.Null(state.Apply(new LogEntry(2, 2, EntryType.Normal, ReadOnlyMemory<byte>.Empty))); // leader of term 2's no-op
        Assert.Equal(new AppendAck(2, 0, 2), state.Apply(Batch(3, 2, 2)));
        Assert.Equal(new AppendAck(2, 2, 3), state.Apply(Batch(4, 2, 3)));
        Assert.Null(state.Apply(new LogEntry(5, 4, EntryType.Normal, ReadOnlyMemory<byte>.Empty))); // term 4: seals epoch 2 at 5
        Assert.Equal(new AppendAck(4, 5, 1), state.Apply(Batch(6, 4, 1)));
        Assert.Null(state.Apply(Batch(6, 4, 1))); // applied again after a restart: skipped

        Assert.Equal(6ul, state.NextOffset);
        Assert.Equal([(2ul, 0ul), (4ul, 5ul)], state.Epochs);
        Assert.Equal((4L, 2ul, 0L), state.Locate(3));
        Assert.Equal((6L, 5ul, 0L), state.Locate(5));

        using (var write = new WriteBatch())
        {
            Assert.True(state.TakeUnwritten(write));
            await store.WriteAsync(write);
            state.Written();
            Assert.False(state.TakeUnwritten(write));
        }

        var reloaded = await PartitionState.LoadAsync(store, StoreLog);
        Assert.Equal(6, reloaded.AppliedIndex);
        Assert.Equal(6ul, reloaded.NextOffset);
        Assert.Equal(state.Epochs, reloaded.Epochs);
        Assert.Equal((3L, 0ul, 0L), reloaded.Locate(1)); // from the store's offset index: nothing recent in memory
        Assert.Equal((4L, 2ul, 0L), reloaded.Locate(4));
        Assert.Equal((6L, 5ul, 0L), reloaded.Locate(5));
    }

    [Fact]
    public async Task Append_times_never_decrease_along_offsets_and_find_the_first_offset_at_or_after_a_time()
    {
        await using var store = PyramidStore.Open(_directory);
        var state = await PartitionState.LoadAsync(store, StoreLog);
        await LogAndApplyAsync(store, state, new LogEntry(1, 1, EntryType.Normal, ReadOnlyMemory<byte>.Empty));
        await LogAndApplyAsync(store, state, Batch(2, 1, 2, new BatchHeader(1000, 0, 0)));  // offsets 0-1 at 1000
        await LogAndApplyAsync(store, state, Batch(3, 1, 3, new BatchHeader(2000, 0, 0)));  // offsets 2-4 at 2000
        await LogAndApplyAsync(store, state, Batch(4, 1, 1, new BatchHeader(1500, 0, 0)));  // offset 5: a clock behind → 2000
        await LogAndApplyAsync(store, state, Batch(5, 1, 2, new BatchHeader(3000, 0, 0)));  // offsets 6-7 at 3000
        Assert.Equal(3000, state.LastAppendTimeMs);

        Assert.Equal(0ul, state.FindOffset(0));
        Assert.Equal(0ul, state.FindOffset(1000));
        Assert.Equal(2ul, state.FindOffset(1001));
        Assert.Equal(2ul, state.FindOffset(2000));
        Assert.Equal(6ul, state.FindOffset(2001));
        Assert.Equal(6ul, state.FindOffset(3000));
        Assert.Equal(8ul, state.FindOffset(3001)); // after everything: the committed end

        var records = new List<CommittedRecord>();
        state.Read(4, long.MaxValue, records);
        Assert.Equal([2000L, 2000, 3000, 3000], records.Select(r => r.AppendTime.ToUnixTimeMilliseconds()));

        // From the store after a reload (nothing recent in memory): the same answers.
        using (var write = new WriteBatch())
        {
            state.TakeUnwritten(write);
            await store.WriteAsync(write);
            state.Written();
        }

        var reloaded = await PartitionState.LoadAsync(store, StoreLog);
        Assert.Equal(3000, reloaded.LastAppendTimeMs);
        Assert.Equal([0ul, 2, 6, 8], new long[] { 999, 1999, 2500, 4000 }.Select(reloaded.FindOffset));
        records.Clear();
        reloaded.Read(5, long.MaxValue, records);
        Assert.Equal([2000L, 3000, 3000], records.Select(r => r.AppendTime.ToUnixTimeMilliseconds()));
    }

    [Fact]
    public async Task Producers_batches_are_remembered_across_a_reload_and_checked_by_sequence()
    {
        await using var store = PyramidStore.Open(_directory);
        var state = await PartitionState.LoadAsync(store, StoreLog);
        state.Apply(new LogEntry(1, 3, EntryType.Normal, ReadOnlyMemory<byte>.Empty));
        state.Apply(Batch(2, 3, 2, new BatchHeader(1, 77, 0)));   // producer 77: sequences 0-1 at offsets 0-1
        state.Apply(Batch(3, 3, 1, new BatchHeader(1, 0, 0)));    // no producer: offset 2
        state.Apply(Batch(4, 3, 3, new BatchHeader(1, 77, 2)));   // producer 77: sequences 2-4 at offsets 3-5
        using (var write = new WriteBatch())
        {
            state.TakeUnwritten(write);
            await store.WriteAsync(write);
            state.Written();
        }

        foreach (var table in new[] { state.Producers, (await PartitionState.LoadAsync(store, StoreLog)).Producers })
        {
            Assert.Equal(1, table.Count);
            Assert.Equal(SequenceCheck.Next, table.Check(77, 5, 1, out _, out var expected));
            Assert.Equal(5, expected);
            Assert.Equal(SequenceCheck.Duplicate, table.Check(77, 2, 3, out var original, out _));
            Assert.Equal(new AppendAck(3, 3, 3, Duplicate: true), original);
            Assert.Equal(SequenceCheck.Duplicate, table.Check(77, 0, 2, out original, out _));
            Assert.Equal(new AppendAck(3, 0, 2, Duplicate: true), original);
            Assert.Equal(SequenceCheck.Ahead, table.Check(77, 6, 1, out _, out expected));
            Assert.Equal(5, expected);
            Assert.Equal(SequenceCheck.TooOld, table.Check(77, 1, 1, out _, out _)); // not a batch it holds
            Assert.Equal(SequenceCheck.UnknownProducer, table.Check(78, 40, 1, out _, out expected)); // a producer it does not know, not at 0
            Assert.Equal(-1, expected);
            Assert.Equal(SequenceCheck.Next, table.Check(78, 0, 1, out _, out _)); // its first batch
        }
    }

    [Fact]
    public async Task A_producer_keeps_its_last_five_batches_and_the_least_recent_producer_is_forgotten_beyond_the_limit()
    {
        await using var store = PyramidStore.Open(_directory);
        var state = await PartitionState.LoadAsync(store, StoreLog);
        state.Apply(new LogEntry(1, 1, EntryType.Normal, ReadOnlyMemory<byte>.Empty));
        var index = 2L;
        for (var sequence = 0; sequence < 6; sequence++)
        {
            state.Apply(Batch(index++, 1, 1, new BatchHeader(1, 5, sequence)));
        }

        Assert.Equal(SequenceCheck.TooOld, state.Producers.Check(5, 0, 1, out _, out _)); // the sixth batch pushed out the first
        Assert.Equal(SequenceCheck.Duplicate, state.Producers.Check(5, 1, 1, out _, out _));

        for (var producer = 100L; producer < 100 + ProducerTable.MaxProducers; producer++)
        {
            state.Apply(Batch(index++, 1, 1, new BatchHeader(1, producer, 0)));
        }

        Assert.Equal(ProducerTable.MaxProducers, state.Producers.Count);
        Assert.Equal(SequenceCheck.Next, state.Producers.Check(5, 0, 1, out _, out var expected)); // forgotten: the least recent
        Assert.Equal(-1, expected);
        using (var write = new WriteBatch())
        {
            state.TakeUnwritten(write);
            await store.WriteAsync(write);
            state.Written();
        }

        var reloaded = (await PartitionState.LoadAsync(store, StoreLog)).Producers;
        Assert.Equal(ProducerTable.MaxProducers, reloaded.Count);
        Assert.Equal(SequenceCheck.Next, reloaded.Check(5, 0, 1, out _, out var gone)); // its key was deleted
        Assert.Equal(-1, gone);
        Assert.Equal(SequenceCheck.Duplicate, reloaded.Check(100, 0, 1, out _, out _));
    }

    /// <summary>Writes the entry to the replica's store log (where reads find records), then applies it.</summary>
    private static async Task LogAndApplyAsync(PyramidStore store, PartitionState state, LogEntry entry)
    {
        using (var write = new WriteBatch())
        {
            write.Append(StoreLog, (ulong)entry.Term, (ulong)entry.Index, [(byte)entry.Type, .. entry.Data.Span]);
            await store.WriteAsync(write);
        }

        state.Apply(entry);
    }

    [Fact]
    public async Task Epochs_wholly_below_the_first_retained_offset_are_dropped_and_at_most_MaxEpochs_are_kept()
    {
        await using var store = PyramidStore.Open(_directory);
        var state = await PartitionState.LoadAsync(store, StoreLog);
        long index = 0;
        state.Apply(new LogEntry(++index, 1, EntryType.Config, ClusterConfig.Of(1).Encode()));
        for (var term = 2; term <= 11; term++)
        {
            state.Apply(new LogEntry(++index, term, EntryType.Normal, ReadOnlyMemory<byte>.Empty)); // a new leader's no-op
            state.Apply(Batch(++index, term, 2));
        }

        Assert.Equal(Enumerable.Range(0, 10).Select(i => ((ulong)(i + 2), (ulong)(2 * i))), state.Epochs);
        state.Apply(new LogEntry(++index, 11, EntryType.Normal, RetentionCommand.Encode(7))); // inside epoch 5's entry (offsets 6-7)
        Assert.Equal(6ul, state.FirstOffset);
        Assert.Equal(Enumerable.Range(3, 7).Select(i => ((ulong)(i + 2), (ulong)(2 * i))), state.Epochs); // epoch 5 covers offset 6

        for (var term = 12; term < 12 + PartitionState.MaxEpochs; term++)
        {
            state.Apply(new LogEntry(++index, term, EntryType.Normal, ReadOnlyMemory<byte>.Empty));
        }

        Assert.Equal(PartitionState.MaxEpochs, state.Epochs.Count);
        Assert.Equal((ulong)(11 + PartitionState.MaxEpochs), state.Epoch);
        Assert.Equal(12ul, state.Epochs[0].Epoch);
    }

    [Fact]
    public async Task A_state_written_with_more_than_MaxEpochs_loads_the_latest()
    {
        await using var store = PyramidStore.Open(_directory);
        var state = await PartitionState.LoadAsync(store, StoreLog);
        state.Apply(new LogEntry(1, 1, EntryType.Config, ClusterConfig.Of(1).Encode()));
        state.Apply(new LogEntry(2, 2, EntryType.Normal, ReadOnlyMemory<byte>.Empty));
        using (var write = new WriteBatch())
        {
            state.TakeUnwritten(write);
            await store.WriteAsync(write);
            state.Written();
        }

        // As a build before the cap wrote it: the same header, 100 epochs.
        var key = Pyralog.Grains.Replication.ReplicaKv.Key(StoreLog, Pyralog.Grains.Replication.ReplicaKv.Applied);
        var written = (await store.GetAsync(key))!;
        var header = written.Length - 16;
        var old = new byte[header + (100 * 16)];
        written.AsSpan(0, header).CopyTo(old);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(old.AsSpan(48), 100);
        for (var i = 0; i < 100; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(old.AsSpan(header + (i * 16)), (ulong)(i + 2));
        }

        using (var write = new WriteBatch())
        {
            write.Put(key, old);
            await store.WriteAsync(write);
        }

        var loaded = await PartitionState.LoadAsync(store, StoreLog);
        Assert.Equal(PartitionState.MaxEpochs, loaded.Epochs.Count);
        Assert.Equal(101ul, loaded.Epoch);
        Assert.Equal((ulong)(102 - PartitionState.MaxEpochs), loaded.Epochs[0].Epoch);
    }

    [Fact]
    public async Task An_entry_of_a_kind_this_build_does_not_know_is_refused_not_skipped()
    {
        await using var store = PyramidStore.Open(_directory);
        var state = await PartitionState.LoadAsync(store, StoreLog);
        state.Apply(new LogEntry(1, 1, EntryType.Config, ClusterConfig.Of(1).Encode()));
        state.Apply(Batch(2, 1, 2));
        var refused = Assert.Throws<InvalidDataException>(() => state.Apply(new LogEntry(3, 1, EntryType.Normal, new byte[] { 3, 0, 0, 0 })));
        Assert.Contains("is of kind 3, which this build does not know", refused.Message);
        Assert.Equal(2, state.AppliedIndex); // not applied: a build that knows it applies it
        Assert.Equal(2ul, state.NextOffset);
    }

    private static LogEntry Batch(long index, long term, int records, BatchHeader header = default) =>
        new(index, term, EntryType.Normal, RecordBatchCodec.Encode([.. Enumerable.Range(0, records).Select(i => new ProducerRecord(null, [(byte)i]))], 1024, header));
}
