using Pyralog.Bench.Storage;

namespace Pyralog.Bench.Tests;

public sealed class PyralogTargetTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task FlushedStatisticsCountTheFlushOfTheRecordsStillInTheMemtable()
    {
        await using var target = new PyralogTarget(_directory.Path);
        byte[][] payloads = [.. Enumerable.Range(0, 1000).Select(_ => new byte[100])];
        await target.AppendAsync(0, payloads, 1000);

        var statistics = await target.FlushedStatisticsAsync();

        Assert.Equal(1, statistics.Flushes);
        Assert.Equal(0, statistics.ImmutableMemtables);
        Assert.True(statistics.FlushBytesWritten >= statistics.UserBytesWritten,
            $"the flush wrote {statistics.FlushBytesWritten} bytes for {statistics.UserBytesWritten} appended");
    }
}
