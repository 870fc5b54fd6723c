using Pyralog.Bench.Harness;

namespace Pyralog.Bench.Tests;

public sealed class LatencyRecorderTests
{
    [Fact]
    public void SamplesPastTheCapacityAreCountedAsDroppedAndNoPercentileIsGivenOfTheRest()
    {
        var latencies = new LatencyRecorder(4);
        latencies.RecordMany([1, 2, 3]);
        latencies.Record(4);
        Assert.Equal(0, latencies.Dropped);
        Assert.Equal(4 * 1_000_000.0 / System.Diagnostics.Stopwatch.Frequency, latencies.PercentileMicros(100));

        latencies.RecordMany([5, 6]);
        Assert.Equal(4, latencies.Count);
        Assert.Equal(2, latencies.Dropped);
        var e = Assert.Throws<InvalidOperationException>(() => latencies.PercentileMicros(99));
        Assert.Equal("2 latency samples past the recorder's capacity of 4 were dropped; size it for the case's rate", e.Message);
    }
}
