using Pyralog.Bench.Harness;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// What one produce run measured: records acknowledged inside the measured span, that span, the latencies of the records
/// that also started inside it, and every record acknowledged (warm-up included: what a consume case reads back).
/// </summary>
internal sealed record LoadResult(long Counted, TimeSpan Measured, LatencyRecorder Latencies, long Acknowledged, long Failed)
{
    public double RecordsPerSecond => Counted / Measured.TotalSeconds;
}
