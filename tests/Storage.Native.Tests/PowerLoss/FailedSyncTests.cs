using System.Text;
using Pyralog.Storage.Native.Log;
using Pyralog.Testing;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>A write whose WAL fdatasync failed was reported as failed, so it must be absent after a reopen, even a
/// plain one (after a failed fdatasync the page cache still holds the frames, but they may never reach the disk).</summary>
public class FailedSyncTests
{
    private const ulong Log = 1;

    [Theory]
    [InlineData(10)]      // synced inline
    [InlineData(100_000)] // a group large enough that its sync overlaps the memtable apply
    public async Task A_write_whose_sync_failed_is_absent_after_a_reopen(int payloadBytes)
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { BackgroundWork = false, Device = device };
        var store = PyramidStore.Open(dir.Path, options);
        await store.AppendAsync(Log, 1, 0, "record-0"u8.ToArray());

        device.FailNextSync("wal-");
        var error = await Assert.ThrowsAsync<IOException>(async () => await store.AppendAsync(Log, 1, 1, new byte[payloadBytes]));
        Assert.Contains("could not be synced", error.Message);
        // Cut back to the end of the acknowledged frame (header, one-record run header, record).
        Assert.Equal(Wal.WriteAheadLog.HeaderBytes + WriteBatch.HeaderBytes + 21 + 12 + "record-0".Length, new FileInfo(Directory.GetFiles(dir.Path, "wal-*.log").Single()).Length);
        await store.DisposeAsync();

        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal(1ul, reopened.GetLogBounds(Log).Next);
        Assert.Equal(0, reopened.Recovery.DroppedBytes);
        Assert.Equal("record-0", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, 0))!.Payload));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_truncation_that_only_a_queued_one_makes_a_no_op_waits_for_it_and_fails_with_it(bool suffix)
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { BackgroundWork = false, Device = device };
        var store = PyramidStore.Open(dir.Path, options);
        using var records = new WriteBatch();
        for (var i = 0; i < 50; i++)
        {
            records.Append(Log, 1, (ulong)i, "r"u8);
        }

        await store.WriteAsync(records);
        Task first, second;
        using (var held = HeldCommitThread.Hold(store))
        {
            first = suffix ? store.TruncateSuffixAsync(Log, 40).AsTask() : store.TruncatePrefixAsync(Log, 10).AsTask();
            // Once the first commits, the second changes nothing; until then it has done nothing either.
            second = suffix ? store.TruncateSuffixAsync(Log, 40).AsTask() : store.TruncatePrefixAsync(Log, 5).AsTask();
            Assert.False(second.IsCompleted, "the second truncation was acknowledged before the one it relies on committed");
            device.FailNextSync("wal-");
            held.Release();
        }

        Assert.Contains("could not be synced", (await Assert.ThrowsAsync<IOException>(() => first)).Message);
        await Assert.ThrowsAsync<IOException>(() => second);
        await store.DisposeAsync();

        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal(new LogBounds(0, 50), reopened.GetLogBounds(Log)); // neither truncation happened, and neither was acknowledged
    }

    [Fact]
    public async Task A_truncation_to_the_end_waits_for_queued_writes_that_leave_the_end_where_it_was()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { BackgroundWork = false });
        using var records = new WriteBatch();
        for (var i = 0; i < 50; i++)
        {
            records.Append(Log, 1, (ulong)i, "r"u8);
        }

        await store.WriteAsync(records);
        using var more = new WriteBatch();
        for (var i = 50; i < 60; i++)
        {
            more.Append(Log, 1, (ulong)i, "r"u8);
        }

        Task appended, truncated, third;
        using (var held = HeldCommitThread.Hold(store))
        {
            // Queued: an append past the end and a truncation back to it. The committed end and the end once they
            // commit are both 50, yet a truncation to 50 does something until both have committed.
            appended = store.WriteAsync(more).AsTask();
            truncated = store.TruncateSuffixAsync(Log, 50).AsTask();
            third = store.TruncateSuffixAsync(Log, 50).AsTask();
            Assert.False(third.IsCompleted, "a truncation was acknowledged while the writes it relies on were queued");
            held.Release();
        }

        await Task.WhenAll(appended, truncated, third);
        Assert.Equal(new LogBounds(0, 50), store.GetLogBounds(Log));
        var groups = store.GetStatistics().CommitGroups;
        await store.TruncateSuffixAsync(Log, 50); // nothing queued now: a no-op writes nothing
        Assert.Equal(groups, store.GetStatistics().CommitGroups);
    }
}
