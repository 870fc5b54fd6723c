using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Tests.PowerLoss;

namespace Pyralog.Storage.Native.Tests;

/// <summary>
/// <see cref="ICommittedWriteListener"/>: told on the commit thread once its batch is committed and before the write's
/// task completes; only in small groups; never for a failed write; a listener that throws harms no writer.
/// </summary>
public class CommittedListenerTests
{
    [Fact]
    public async Task A_listener_runs_on_the_commit_thread_after_the_commit_and_before_the_writer_hears()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { BackgroundWork = false });
        using var hold = new ManualResetEventSlim();
        var first = new RecordingListener(store, 1, hold);
        using var firstBatch = Batch(1, first);
        var firstWrite = store.WriteAsync(firstBatch).AsTask();
        Assert.True(first.Entered.Wait(TimeSpan.FromSeconds(30)), "the listener was not called");

        Assert.Equal("pyralog-commit", first.Thread);
        Assert.Equal(new LogBounds(0, 1), first.BoundsSeen); // published before it was told
        Assert.False(firstWrite.IsCompleted);

        // While the commit thread is held, more batches than a small group takes queue up: they commit as one group,
        // whose listeners are not told (their writers act after their awaits).
        var queued = Enumerable.Range(0, PyramidStore.MaxGroupForCommittedListeners + 2)
            .Select(i => (Log: 10 + (ulong)i, Listener: new RecordingListener(store, 10 + (ulong)i, hold: null))).ToList();
        var batches = queued.Select(q => Batch(q.Log, q.Listener)).ToList();
        var writes = batches.Select(b => store.WriteAsync(b).AsTask()).ToList();
        hold.Set();
        await firstWrite;
        await Task.WhenAll(writes);
        Assert.All(queued, q => Assert.Equal(0, q.Listener.Calls));
        Assert.All(queued, q => Assert.Equal(new LogBounds(0, 1), store.GetLogBounds(q.Log)));
        Assert.Equal(1, first.Calls);
        batches.ForEach(b => b.Dispose());

        var alone = new RecordingListener(store, 2, hold: null);
        using var aloneBatch = Batch(2, alone);
        await store.WriteAsync(aloneBatch);
        Assert.Equal(1, alone.Calls);
    }

    [Fact]
    public async Task A_write_that_failed_is_never_reported_committed()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { BackgroundWork = false, Device = device });
        await store.AppendAsync(1, 1, 0, "record-0"u8.ToArray());

        device.FailNextSync("wal-");
        var listener = new RecordingListener(store, 1, hold: null);
        using var batch = new WriteBatch { CommittedListener = listener };
        batch.Append(1, 1, 1, "record-1"u8);
        await Assert.ThrowsAsync<IOException>(async () => await store.WriteAsync(batch));
        Assert.Equal(0, listener.Calls);
    }

    [Fact]
    public async Task A_listener_that_throws_harms_neither_its_writer_nor_the_store()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { BackgroundWork = false });
        var listener = new ThrowingListener();
        using var batch = new WriteBatch { CommittedListener = listener };
        batch.Append(1, 1, 0, "record-0"u8);
        await store.WriteAsync(batch);
        Assert.Equal(1, listener.Calls); // it was told (and threw) before the write completed

        await store.AppendAsync(1, 1, 1, "record-1"u8.ToArray());
        Assert.Equal(new LogBounds(0, 2), store.GetLogBounds(1));
        Assert.Equal(1, listener.Calls); // and only for its own batch
    }

    [Fact]
    public void Clear_forgets_the_listener()
    {
        using var batch = new WriteBatch { CommittedListener = new ThrowingListener() };
        batch.Clear();
        Assert.Null(batch.CommittedListener);
    }

    private static WriteBatch Batch(ulong log, ICommittedWriteListener listener)
    {
        var batch = new WriteBatch { CommittedListener = listener };
        batch.Append(log, 1, 0, "record"u8);
        return batch;
    }

    private sealed class RecordingListener(PyramidStore store, ulong log, ManualResetEventSlim? hold) : ICommittedWriteListener
    {
        public ManualResetEventSlim Entered { get; } = new();

        public int Calls { get; private set; }

        public string? Thread { get; private set; }

        public LogBounds BoundsSeen { get; private set; }

        public void Committed()
        {
            Calls++;
            Thread = System.Threading.Thread.CurrentThread.Name;
            BoundsSeen = store.GetLogBounds(log);
            Entered.Set();
            hold?.Wait(TimeSpan.FromSeconds(30));
        }
    }

    private sealed class ThrowingListener : ICommittedWriteListener
    {
        public int Calls { get; private set; }

        public void Committed()
        {
            Calls++;
            throw new InvalidOperationException("a listener's bug");
        }
    }
}
