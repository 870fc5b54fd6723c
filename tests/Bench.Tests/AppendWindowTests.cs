using Pyralog.Bench.Partition;

namespace Pyralog.Bench.Tests;

public sealed class AppendWindowTests
{
    [Fact]
    public void AnAppendStartedInTheWindowAndAcknowledgedAfterItsEndGivesItsLatencyAndTheMaxButNoThroughput()
    {
        var window = new AppendWindow(from: 1_000, end: 2_000);

        window.Add(started: 1_200, ended: 1_300, records: 1000);
        window.Add(started: 1_900, ended: 2_600, records: 1000);

        Assert.Equal(1000, window.Records);
        Assert.Equal(2, window.Latencies.Count);
        Assert.Equal(700, window.Longest);
    }

    [Fact]
    public void AnAppendStartedBeforeTheWindowAndAcknowledgedInItCountsInThroughputAndTheMaxButGivesNoLatency()
    {
        var window = new AppendWindow(from: 1_000, end: 2_000);

        window.Add(started: 500, ended: 1_100, records: 1000);

        Assert.Equal(1000, window.Records);
        Assert.Equal(0, window.Latencies.Count);
        Assert.Equal(600, window.Longest);
    }

    [Fact]
    public void AnAppendAcknowledgedBeforeTheWindowCountsNowhere()
    {
        var window = new AppendWindow(from: 1_000, end: 2_000);

        window.Add(started: 100, ended: 999, records: 1000);

        Assert.Equal(0, window.Records);
        Assert.Equal(0, window.Latencies.Count);
        Assert.Equal(0, window.Longest);
    }
}
