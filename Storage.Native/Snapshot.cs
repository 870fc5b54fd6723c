using Pyralog.Storage.Native.Iteration;
using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Memtables;
using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native;

/// <summary>
/// A consistent read point: the memtables and pinned segment version at one instant plus the log
/// bounds and sequence published with them, taken together under the view lock. Everything a read
/// returns comes from one snapshot, so concurrent appends, flushes and compactions never mix in.
/// </summary>
internal readonly struct Snapshot
{
    /// <summary>Pins the version and every memtable; the caller holds the view lock, so all are still published.</summary>
    public Snapshot(Memtable active, Memtable[] immutablesNewestFirst, StoreVersion version, LogState state, ulong sequence)
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
        State = state;
        Sequence = sequence;
    }

    public Memtable Active { get; }

    public Memtable[] Immutables { get; }

    public StoreVersion Version { get; }

    public LogState State { get; }

    public ulong Sequence { get; }

    public void Release()
    {
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
                sources.Add(new SegmentIterator(segment));
            }
        }

        for (var level = 1; level < levels.Length; level++)
        {
            var overlapping = new List<Segment>();
            foreach (var segment in levels[level])
            {
                if (Overlaps(segment, start, end))
                {
                    overlapping.Add(segment);
                }
            }

            if (overlapping.Count > 0)
            {
                sources.Add(new LevelIterator([.. overlapping]));
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

        if (includeLog && memtable.Runs.Length > 0)
        {
            sources.Add(new MemtableLogIterator(memtable, Sequence, logEnd));
        }
    }

    private static bool Overlaps(Segment segment, ReadOnlySpan<byte> start, ReadOnlySpan<byte> end) =>
        segment.Metadata.MaxKey.AsSpan().SequenceCompareTo(start) >= 0 && segment.Metadata.MinKey.AsSpan().SequenceCompareTo(end) < 0;
}
