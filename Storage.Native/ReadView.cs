using Pyralog.Storage.Native.Iteration;
using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Memtables;
using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native;

/// <summary>
/// A consistent read point: the memtables and pinned segment version at one instant plus the sequence
/// (and, for a log read, that log's bounds) published with them, taken together under the view lock.
/// Everything a read returns comes from one view, so concurrent appends, flushes and compactions never
/// mix in. A class, not a struct: it owns reference counts, and a copy must not be able to release them twice.
/// </summary>
internal sealed class ReadView
{
    private int _released;

    // Invariant: null until a read through this view touches a segment (most reads end in a memtable).
    private SegmentPins? _pins;

    /// <summary>Pins the version and every memtable; the caller holds the view lock, so all are still published.</summary>
    public ReadView(Memtable active, Memtable[] immutablesNewestFirst, StoreVersion version, ulong log, LogSpaceState state, ulong sequence)
    {
        // Why the memtables too: reads hand out raw spans into segments and recovered WAL mappings, and
        // nothing may unmap either before Release, even if whoever holds the snapshot becomes unreachable.
        version.AddReference();
        active.AddReference();
        foreach (var memtable in immutablesNewestFirst)
        {
            memtable.AddReference();
        }

        Active = active;
        Immutables = immutablesNewestFirst;
        Version = version;
        Log = log;
        State = state;
        Sequence = sequence;
    }

    public Memtable Active { get; }

    public Memtable[] Immutables { get; }

    public StoreVersion Version { get; }

    /// <summary>The log this view reads (0 and an empty state for key/value reads).</summary>
    public ulong Log { get; }

    public LogSpaceState State { get; }

    public ulong Sequence { get; }

    /// <summary>The segment mappings this view's reads touched (they stay mapped until <see cref="Release"/>).</summary>
    public SegmentPins Pins => _pins ??= new SegmentPins();

    /// <summary>Drops the view's pins; a second call does nothing.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }

        _pins?.Release();
        Version.Release();
        Active.Release();
        foreach (var memtable in Immutables)
        {
            memtable.Release();
        }
    }

    /// <summary>Merged entries of [<paramref name="start"/>, <paramref name="end"/>) from every source, newest wins.</summary>
    public MergingIterator CreateIterator(ReadOnlySpan<byte> start, ReadOnlySpan<byte> end, bool includeLog, bool includeKv, ulong logEnd)
    {
        var sources = new List<IEntryIterator>();
        AddMemtable(sources, Active, includeLog, includeKv, logEnd);
        foreach (var memtable in Immutables)
        {
            AddMemtable(sources, memtable, includeLog, includeKv, logEnd);
        }

        var levels = Version.Levels;
        foreach (var segment in levels[0])
        {
            if (Overlaps(segment, start, end))
            {
                sources.Add(new SegmentIterator(segment, Pins));
            }
        }

        for (var level = 1; level < levels.Length; level++)
        {
            var run = levels[level];
            var first = LevelIterator.FirstEndingAtOrAfter(run, start);
            var last = first;
            while (last < run.Length && run[last].Metadata.MinKey.AsSpan().SequenceCompareTo(end) < 0)
            {
                last++;
            }

            if (last > first)
            {
                sources.Add(new LevelIterator(run[first..last], Pins));
            }
        }

        var merged = new MergingIterator([.. sources]);
        merged.Seek(start);
        return merged;
    }

    private void AddMemtable(List<IEntryIterator> sources, Memtable memtable, bool includeLog, bool includeKv, ulong logEnd)
    {
        if (includeKv)
        {
            sources.Add(new MemtableKvIterator(memtable.Kv, Sequence));
        }

        if (includeLog && memtable.FindLog(Log) is not null)
        {
            sources.Add(new MemtableLogIterator(memtable, Log, Sequence, logEnd));
        }
    }

    private static bool Overlaps(Segment segment, ReadOnlySpan<byte> start, ReadOnlySpan<byte> end) =>
        segment.Metadata.MaxKey.AsSpan().SequenceCompareTo(start) >= 0 && segment.Metadata.MinKey.AsSpan().SequenceCompareTo(end) < 0;
}
