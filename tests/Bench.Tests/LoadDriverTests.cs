using Pyralog.Bench.Cluster;

namespace Pyralog.Bench.Tests;

public sealed class LoadDriverTests
{
    [Theory]
    [InlineData(1_200, 1_300, true, true)] // inside
    [InlineData(1_900, 2_600, false, true)] // started inside, acknowledged after the end: its latency counts (a stall across the end)
    [InlineData(500, 1_100, true, false)] // started before the window: throughput only
    [InlineData(100, 999, false, false)] // acknowledged before the window
    [InlineData(2_000, 2_000, true, false)] // started at the end: not in [from, end)
    public void ARecordCountsTowardRecordsPerSecondWhenAcknowledgedInTheWindowAndTowardLatencyWhenStartedInIt(long start, long acked, bool rate, bool latency) =>
        Assert.Equal((rate, latency), LoadDriver.Counts(start, acked, from: 1_000, end: 2_000));
}
