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
        Assert.Equal((4L, 2ul), state.Locate(3));
        Assert.Equal((6L, 5ul), state.Locate(5));

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
        Assert.Equal((3L, 0ul), reloaded.Locate(1)); // from the store's offset index: nothing recent in memory
        Assert.Equal((4L, 2ul), reloaded.Locate(4));
        Assert.Equal((6L, 5ul), reloaded.Locate(5));
    }

    private static LogEntry Batch(long index, long term, int records) =>
        new(index, term, EntryType.Normal, RecordBatchCodec.Encode([.. Enumerable.Range(0, records).Select(i => new ProducerRecord(null, [(byte)i]))], 1024));
}
