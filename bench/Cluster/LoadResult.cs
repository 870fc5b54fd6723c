using Pyralog.Bench.Harness;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// What one produce run measured: records acknowledged inside the measured span, that span, the latencies of the records
/// that also started inside it, every record acknowledged (warm-up included: what a consume case reads back), and the
/// CPU time the bench's own process (harness and client) and the system's servers used inside the span.
/// </summary>
internal sealed record LoadResult(long Counted, TimeSpan Measured, LatencyRecorder Latencies, long Acknowledged, long Failed, TimeSpan ClientCpu, TimeSpan ServerCpu)
{
    public double RecordsPerSecond => Counted / Measured.TotalSeconds;

    /// <summary>CPU microseconds per record counted, servers and client together (what the machine paid for each).</summary>
    public double CpuMicrosPerRecord => Counted == 0 ? 0 : (ClientCpu + ServerCpu).TotalMicroseconds / Counted;

    /// <summary>CPU microseconds per record counted, the servers alone.</summary>
    public double ServerCpuMicrosPerRecord => Counted == 0 ? 0 : ServerCpu.TotalMicroseconds / Counted;
}
