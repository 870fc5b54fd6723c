using Pyralog.Storage.Native.Log;

namespace Pyralog.Storage.Native.Tests;

/// <summary>The commit loop as writers see it: bad batches harm nobody, cancellation before queueing writes nothing,
/// and one fdatasync carries the appends of many logs.</summary>
public class CommitLoopTests
{
    [Fact]
    public async Task A_disposed_batch_is_refused_before_it_joins_a_group_and_harms_no_other_writer()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { BackgroundWork = false });
        var disposed = new WriteBatch();
        disposed.Append(1, 1, 0, "never"u8);
        disposed.Dispose();
        var writers = Enumerable.Range(0, 16).Select(async i =>
        {
            using var batch = new WriteBatch();
            batch.Append(100 + (ulong)i, 1, 0, "valid"u8);
            await store.WriteAsync(batch);
        }).ToList();
        Assert.Throws<ObjectDisposedException>(() => { _ = store.WriteAsync(disposed); });
        await Task.WhenAll(writers);
        for (var i = 0; i < 16; i++)
        {
            Assert.Equal(new LogBounds(0, 1), store.GetLogBounds(100 + (ulong)i));
        }

        Assert.Equal(default, store.GetLogBounds(1));
        await store.AppendAsync(1, 1, 0, "still writable"u8.ToArray()); // the store did not fault
        Assert.Equal(new LogBounds(0, 1), store.GetLogBounds(1));
    }

    [Fact]
    public async Task A_cancelled_token_writes_nothing_and_reads_honour_it_too()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { BackgroundWork = false });
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.AppendAsync(1, 1, 0, "x"u8.ToArray(), cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.PutAsync("k"u8.ToArray(), "v"u8.ToArray(), cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.TruncatePrefixAsync(1, 5, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.FlushAsync(cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.ReadAsync(1, 0, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.GetAsync("k"u8.ToArray(), cancelled.Token));
        Assert.Equal(default, store.GetLogBounds(1));
        Assert.Null(await store.GetAsync("k"u8.ToArray()));
        Assert.Equal(0, store.GetStatistics().CommitGroups);
    }

    [Fact]
    public async Task Appends_to_many_logs_queued_together_share_commit_groups_and_fsyncs()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions());
        const int logs = 200;
        const int rounds = 5;
        var payload = new byte[100];

        // 1,000 appends queued from one thread without waiting (each log's offsets in order): queueing takes about a
        // millisecond, a group's fsync about a tenth of one, so the commit thread meets long queues and takes them whole.
        var writes = new List<Task>(logs * rounds);
        for (var round = 0; round < rounds; round++)
        {
            for (var log = 0; log < logs; log++)
            {
                writes.Add(store.AppendAsync((ulong)log, 1, (ulong)round, payload).AsTask());
            }
        }

        await Task.WhenAll(writes);
        var statistics = store.GetStatistics();
        Assert.Equal(logs, statistics.Logs);
        for (var log = 0; log < logs; log++)
        {
            Assert.Equal(new LogBounds(0, rounds), store.GetLogBounds((ulong)log));
        }

        // Every group was synced before its writers heard back, and groups carried many logs' appends.
        Assert.Equal(statistics.CommitGroups, statistics.WalSyncs);
        Assert.True(statistics.WalSyncs * 4 <= logs * rounds, $"{statistics.WalSyncs} fsyncs for {logs * rounds} appends: groups did not form");
    }

    [Fact]
    public async Task A_batch_still_queued_is_refused_a_second_time_and_nothing_is_written_twice()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { BackgroundWork = false });
        var big = new byte[1 << 20];
        var ahead = Enumerable.Range(0, 32).Select(i => store.PutAsync(BitConverter.GetBytes(i), big).AsTask()).ToList(); // a queue to wait behind
        using var batch = new WriteBatch();
        batch.Put("k"u8, "v"u8);
        var first = store.WriteAsync(batch).AsTask();
        var again = Assert.Throws<InvalidOperationException>(() => { _ = store.WriteAsync(batch); });
        Assert.Contains("already queued", again.Message);
        await Task.WhenAll(ahead);
        await first;
        await store.WriteAsync(batch); // written once it completed, it may be written again
        await store.DisposeAsync();
        await using var reopened = PyramidStore.Open(dir.Path, new PyramidOptions { BackgroundWork = false }); // one frame per write: replay agrees
        Assert.Equal("v"u8.ToArray(), await reopened.GetAsync("k"u8.ToArray()));
    }

    [Fact]
    public async Task Truncations_that_change_nothing_write_nothing()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { BackgroundWork = false });
        await store.AppendAsync(1, Enumerable.Range(5, 5).Select(i => new AppendRecord(1, (ulong)i, new byte[8])).ToArray());
        var groups = store.GetStatistics().CommitGroups;
        await store.TruncateSuffixAsync(1, 10); // at the end
        await store.TruncatePrefixAsync(1, 5);  // at the front
        await store.TruncatePrefixAsync(1, 3);  // below it
        Assert.Equal(groups, store.GetStatistics().CommitGroups);
        await store.TruncateSuffixAsync(1, 8);
        Assert.Equal(groups + 1, store.GetStatistics().CommitGroups);
        Assert.Equal(new LogBounds(5, 8), store.GetLogBounds(1));
    }
}
