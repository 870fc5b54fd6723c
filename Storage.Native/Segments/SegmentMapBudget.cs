namespace Pyralog.Storage.Native.Segments;

/// <summary>
/// How many of a store's segments may be memory-mapped at once. Every mapped segment is one of the process's memory
/// mappings, and Linux caps those at <c>vm.max_map_count</c> (65,530 by default): a .NET process that reaches the cap
/// does not get an exception but dies, when the JIT's next code mapping fails. So past <see cref="Limit"/> the segments
/// pinned least recently are unmapped (the CLOCK approximation of LRU: a pin marks the segment, the hand clears the
/// mark once and unmaps the segment the next time round), and the next reader that touches one maps it again.
/// A reader that still holds an evicted mapping keeps it until it lets go (<see cref="SegmentPins"/>), so the process
/// may briefly hold more than the limit, by the mappings open readers pinned: a sorted run is read one segment at a
/// time (<see cref="Iteration.LevelIterator"/> lets go of each segment as it moves on), overlapping L0 segments all at
/// once. <see cref="Mapped"/> counts every live mapping, pinned ones included, and <see cref="PeakMapped"/> the most at once.
/// </summary>
internal sealed class SegmentMapBudget
{
    private readonly Lock _lock = new();

    // Invariant: every live segment (opened, not yet disposed) is on the ring exactly once; read and written under _lock.
    private readonly LinkedList<Segment> _ring = new();
    private LinkedListNode<Segment>? _hand;

    // Invariant: the number of registered segments that hold a current mapping of their own; eviction holds it at most
    // Limit.
    private int _owned;

    // Invariant: the number of SegmentMapping objects not yet unmapped (the segments' own and those only readers pin);
    // _peak is the most it has been.
    private int _live;
    private int _peak;
    private long _remaps;

    public SegmentMapBudget(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        Limit = limit;
    }

    public int Limit { get; }

    /// <summary>Segment mappings the process holds now, those only readers still pin included.</summary>
    public int Mapped => Volatile.Read(ref _live);

    /// <summary>The most segment mappings held at once since the store opened.</summary>
    public int PeakMapped => Volatile.Read(ref _peak);

    /// <summary>Times a reader had to map a segment again after an eviction.</summary>
    public long Remaps => Interlocked.Read(ref _remaps);

    /// <summary>Half the kernel's per-process mapping cap (the rest is the runtime's and everyone else's), or 32,768
    /// where it cannot be read.</summary>
    public static int DefaultLimit()
    {
        try
        {
            var text = File.ReadAllText("/proc/sys/vm/max_map_count").Trim();
            if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var cap) && cap >= 2)
            {
                return cap / 2;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return 32_768;
    }

    public LinkedListNode<Segment> Register(Segment segment)
    {
        lock (_lock)
        {
            return _ring.AddLast(segment);
        }
    }

    public void Unregister(LinkedListNode<Segment> node)
    {
        lock (_lock)
        {
            if (_hand == node)
            {
                _hand = node.Next;
            }

            _ring.Remove(node);
        }
    }

    public void OnMappingCreated()
    {
        var live = Interlocked.Increment(ref _live);
        var peak = Volatile.Read(ref _peak);
        while (live > peak)
        {
            var seen = Interlocked.CompareExchange(ref _peak, live, peak);
            if (seen == peak)
            {
                break;
            }

            peak = seen;
        }
    }

    public void OnMappingGone() => Interlocked.Decrement(ref _live);

    /// <summary>A segment took a mapping as its own; unmaps others while more than <see cref="Limit"/> segments hold
    /// one. Never called under a segment's lock.</summary>
    public void OnOwned(bool remap)
    {
        if (remap)
        {
            Interlocked.Increment(ref _remaps);
        }

        if (Interlocked.Increment(ref _owned) > Limit)
        {
            Evict();
        }
    }

    public void OnDisowned() => Interlocked.Decrement(ref _owned);

    private void Evict()
    {
        lock (_lock)
        {
            // Two turns of the hand at most: the first spares segments read since it last passed (and clears their
            // mark), the second unmaps whatever it meets, so the store ends within its limit even while readers keep
            // marking segments.
            var turn = _ring.Count;
            for (var steps = 0; steps < 2 * turn && Volatile.Read(ref _owned) > Limit; steps++)
            {
                var node = _hand ?? _ring.First;
                if (node is null)
                {
                    return;
                }

                _hand = node.Next;
                var segment = node.Value;
                if (steps < turn && segment.RecentlyPinned)
                {
                    segment.RecentlyPinned = false;
                    continue;
                }

                segment.Unmap();
            }
        }
    }
}
