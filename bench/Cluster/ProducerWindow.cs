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
    private long _started;
    private long _acknowledged;
    private long _failed;
    private Exception? _firstError;

    public string Name { get; } = name;

    public LatencyRecorder Latencies { get; } = new(Capacity);

    public long Started => Interlocked.Read(ref _started);

    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Records started in the window and neither acknowledged nor failed yet.</summary>
    public long Unsettled => Started - Interlocked.Read(ref _acknowledged) - Failed;

    /// <summary>The first failure's exception, in a line.</summary>
    public string FirstError => Volatile.Read(ref _firstError) is { } e ? $"{e.GetType().Name}: {e.Message}" : "none";

    public void Start() => Interlocked.Increment(ref _started);

    public void Acknowledged(long stopwatchTicks)
    {
        Latencies.Record(stopwatchTicks);
        Interlocked.Increment(ref _acknowledged);
    }

    public void Fail(Exception? error)
    {
        Interlocked.CompareExchange(ref _firstError, error, null);
        Interlocked.Increment(ref _failed);
    }

    /// <summary>
    /// Waits until every record of the window was acknowledged or failed (the producer fails a record after its 2-minute
    /// delivery timeout), at most <paramref name="timeout"/>: a record still in flight would otherwise be left out of
    /// the latencies, the slowest ones first.
    /// </summary>
    public async Task<bool> SettleAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (Unsettled > 0 && watch.Elapsed < timeout)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }

        return Unsettled == 0;
    }
}
