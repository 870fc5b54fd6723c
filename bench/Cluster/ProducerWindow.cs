using Pyralog.Bench.Harness;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// The records a <see cref="SteadyProducer"/> started while this window was its current one: their latencies (call to
/// acknowledgement) and how many failed. A record counts in the window it started in, however late it is acknowledged.
/// </summary>
internal sealed class ProducerWindow(string name)
{
    // About 20 minutes at SteadyProducer's rate; samples past it are dropped by the recorder.
    private const int Capacity = 1 << 21;
    private long _failed;
    private Exception? _firstError;

    public string Name { get; } = name;

    public LatencyRecorder Latencies { get; } = new(Capacity);

    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>The first failure's exception, in a line.</summary>
    public string FirstError => Volatile.Read(ref _firstError) is { } e ? $"{e.GetType().Name}: {e.Message}" : "none";

    public void Acknowledged(long stopwatchTicks) => Latencies.Record(stopwatchTicks);

    public void Fail(Exception? error)
    {
        Interlocked.CompareExchange(ref _firstError, error, null);
        Interlocked.Increment(ref _failed);
    }
}
