using System.Diagnostics;
using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Silo.Tests.Obelisk;

/// <summary>
/// Checks every ID one client received, without keeping them: per obelisk, consecutive IDs are kept as runs of ticks
/// (ms × 8192 + sequence), each ID must be above the last one of its obelisk (per-obelisk order), and the runs of all
/// clients must not overlap (no duplicates). Also records the longest wait for one ID. Single-threaded.
/// </summary>
internal sealed class ScarabIdChecker
{
    private readonly Dictionary<int, (ulong Start, ulong End)> _open = [];
    private readonly List<(int Obelisk, ulong Start, ulong End)> _closed = [];
    private long _faultAt = long.MaxValue;

    public long Count { get; private set; }

    /// <summary>The longest wait for one ID, in Stopwatch ticks, and when it ended (Stopwatch timestamp).</summary>
    public long MaxWait { get; private set; }

    public long MaxWaitEndedAt { get; private set; }

    /// <summary>The longest wait for one ID that ended at or after <see cref="FaultAt"/>, in Stopwatch ticks.</summary>
    public long MaxWaitAfterFault { get; private set; }

    /// <summary>When the fault began (Stopwatch timestamp; set by another thread), long.MaxValue before.</summary>
    public long FaultAt
    {
        get => Volatile.Read(ref _faultAt);
        set => Volatile.Write(ref _faultAt, value);
    }

    public int OrderViolations { get; private set; }

    public string? FirstProblem { get; private set; }

    public void Record(ScarabId id, long waitStarted, long waitEnded)
    {
        Count++;
        RecordWait(waitStarted, waitEnded);
        var obelisk = id.ObeliskId;
        var tick = (id.Milliseconds << ScarabId.SequenceBits) | (uint)id.Sequence;
        if (_open.TryGetValue(obelisk, out var run))
        {
            if (tick == run.End + 1)
            {
                _open[obelisk] = (run.Start, tick);
                return;
            }

            if (tick <= run.End)
            {
                OrderViolations++;
                FirstProblem ??= $"{id.ToReadableString()} came after a later ID of obelisk {obelisk} (tick {run.End})";
            }

            _closed.Add((obelisk, run.Start, run.End));
        }

        _open[obelisk] = (tick, tick);
    }

    /// <summary>A wait for one ID, also one the end of the run interrupted (it counts as a gap all the same).</summary>
    public void RecordWait(long waitStarted, long waitEnded)
    {
        if (waitEnded - waitStarted > MaxWait)
        {
            MaxWait = waitEnded - waitStarted;
            MaxWaitEndedAt = waitEnded;
        }

        if (waitEnded >= FaultAt && waitEnded - waitStarted > MaxWaitAfterFault)
        {
            MaxWaitAfterFault = waitEnded - waitStarted;
        }
    }

    public double MaxWaitMilliseconds => MaxWait * 1000.0 / Stopwatch.Frequency;

    public double MaxWaitAfterFaultMilliseconds => MaxWaitAfterFault * 1000.0 / Stopwatch.Frequency;

    /// <summary>How many IDs were received twice, across all <paramref name="checkers"/>; names the first.</summary>
    public static long CountDuplicates(IEnumerable<ScarabIdChecker> checkers, out string? first)
    {
        var runs = new List<(int Obelisk, ulong Start, ulong End)>();
        foreach (var checker in checkers)
        {
            runs.AddRange(checker._closed);
            foreach (var (obelisk, run) in checker._open)
            {
                runs.Add((obelisk, run.Start, run.End));
            }
        }

        runs.Sort();
        first = null;
        long duplicates = 0;
        var reach = 0UL; // the highest tick any earlier run of the same obelisk covered
        for (var i = 0; i < runs.Count; i++)
        {
            var (obelisk, start, end) = runs[i];
            if (i > 0 && obelisk == runs[i - 1].Obelisk && start <= reach)
            {
                duplicates += (long)(Math.Min(end, reach) - start + 1);
                first ??= $"obelisk {obelisk}: ticks {start}..{Math.Min(end, reach)} received twice";
            }

            reach = i > 0 && obelisk == runs[i - 1].Obelisk ? Math.Max(reach, end) : end;
        }

        return duplicates;
    }
}
