namespace Pyralog.Bench.Harness;

/// <summary>Records latencies in Stopwatch ticks into a preallocated array (from any number of threads);
/// percentiles sort once at the end.</summary>
public sealed class LatencyRecorder
{
    private readonly long[] _samples;
    private int _count;

    public LatencyRecorder(int capacity) => _samples = new long[capacity];

    public int Count => Math.Min(Volatile.Read(ref _count), _samples.Length);

    /// <summary>Samples recorded past the capacity, which no percentile may leave out silently (they are the latest).</summary>
    public int Dropped => Math.Max(0, Volatile.Read(ref _count) - _samples.Length);

    /// <summary>Records one sample; samples past the capacity are dropped so the hot loop never allocates.</summary>
    public void Record(long stopwatchTicks)
    {
        var index = Interlocked.Increment(ref _count) - 1;
        if (index < _samples.Length)
        {
            _samples[index] = stopwatchTicks;
        }
    }

    /// <summary>Records one sample timed on a clock of <paramref name="ticksPerSecond"/> (a <see cref="TimeProvider"/>'s
    /// timestamps), in Stopwatch ticks.</summary>
    public void Record(long ticks, long ticksPerSecond) =>
        Record(ticksPerSecond == System.Diagnostics.Stopwatch.Frequency ? ticks : (long)((Int128)ticks * System.Diagnostics.Stopwatch.Frequency / ticksPerSecond));

    /// <summary>Records samples gathered elsewhere with one reservation (the ones past the capacity are dropped).</summary>
    public void RecordMany(ReadOnlySpan<long> stopwatchTicks)
    {
        if (stopwatchTicks.IsEmpty)
        {
            return;
        }

        var first = Interlocked.Add(ref _count, stopwatchTicks.Length) - stopwatchTicks.Length;
        if (first < _samples.Length)
        {
            stopwatchTicks[..Math.Min(stopwatchTicks.Length, _samples.Length - first)].CopyTo(_samples.AsSpan(first));
        }
    }

    /// <summary>The percentile (0..100) in microseconds.</summary>
    /// <exception cref="InvalidOperationException">Samples were dropped: a percentile of the rest would leave out the window's end.</exception>
    public double PercentileMicros(double percentile)
    {
        if (Dropped > 0)
        {
            throw new InvalidOperationException($"{Dropped:N0} latency samples past the recorder's capacity of {_samples.Length:N0} were dropped; size it for the case's rate");
        }

        var count = Count;
        if (count == 0)
        {
            return double.NaN;
        }

        Array.Sort(_samples, 0, count);
        var index = (int)Math.Ceiling(percentile / 100.0 * count) - 1;
        index = Math.Clamp(index, 0, count - 1);
        return _samples[index] * 1_000_000.0 / System.Diagnostics.Stopwatch.Frequency;
    }
}
