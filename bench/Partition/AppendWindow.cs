using Pyralog.Bench.Harness;

namespace Pyralog.Bench.Partition;

/// <summary>
/// The measured window [<paramref name="from"/>, <paramref name="end"/>) of a produce case, in Stopwatch ticks (its
/// producers start no append after its end and wait for those they started). Throughput counts the records acknowledged
/// inside it. Latency counts every append started inside it, however late it is acknowledged: a stall across the end
/// must not drop the slowest appends. The longest append is also taken of those acknowledged inside it after starting
/// before it, so a stall across its start shows too.
/// </summary>
internal sealed class AppendWindow(long from, long end)
{
    private long _records;
    private long _longest;

    public long From { get; } = from;

    public long End { get; } = end;

    public LatencyRecorder Latencies { get; } = new(1 << 20);

    /// <summary>Records acknowledged inside the window.</summary>
    public long Records => Interlocked.Read(ref _records);

    /// <summary>The longest append (Stopwatch ticks) started or acknowledged inside the window; 0 when none.</summary>
    public long Longest => Interlocked.Read(ref _longest);

    /// <summary>An append of <paramref name="records"/> records called at <paramref name="started"/> and acknowledged at <paramref name="ended"/>.</summary>
    public void Add(long started, long ended, int records)
    {
        var startedInside = started >= From && started < End;
        var endedInside = ended >= From && ended <= End;
        if (endedInside)
        {
            Interlocked.Add(ref _records, records);
        }

        if (startedInside)
        {
            Latencies.Record(ended - started);
        }

        if (startedInside || endedInside)
        {
            Max(ref _longest, ended - started);
        }
    }

    private static void Max(ref long location, long value)
    {
        var current = Interlocked.Read(ref location);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
