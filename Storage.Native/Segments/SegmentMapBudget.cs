namespace Pyralog.Storage.Native.Segments;

/// <summary>
/// How many of a store's segments may be memory-mapped at once. Every mapped segment is one of the process's memory
/// mappings, and Linux caps those at <c>vm.max_map_count</c> (65,530 by default): a .NET process that reaches the cap
/// does not get an exception but dies, when the JIT's next code mapping fails. So past <see cref="Limit"/> the segments
/// pinned least recently are unmapped (the CLOCK approximation of LRU: a pin marks the segment, the hand clears the
/// mark once and unmaps the segment the next time round), and the next reader that touches one maps it again.
/// A reader that still holds an evicted mapping keeps it until it lets go (<see cref="SegmentPins"/>), so the process
/// may briefly hold more than the limit, by at most the mappings open readers pinned.
/// </summary>
internal sealed class SegmentMapBudget
{
    private readonly Lock _lock = new();

    // Invariant: every live segment (opened, not yet disposed) is on the ring exactly once; read and written under _lock.
    private readonly LinkedList<Segment> _ring = new();
    private LinkedListNode<Segment>? _hand;

    // Invariant: the number of registered segments whose current mapping is set (Segment.IsMapped).
    private int _mapped;
    private long _remaps;

    public SegmentMapBudget(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        Limit = limit;
    }

    public int Limit { get; }

    /// <summary>Segments mapped now (not counting evicted mappings readers still pin).</summary>
    public int Mapped => Volatile.Read(ref _mapped);

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

    /// <summary>A segment got a mapping; unmaps others while the store is over its limit. Never called under a segment's lock.</summary>
    public void OnMapped(bool remap)
    {
        if (remap)
        {
            Interlocked.Increment(ref _remaps);
        }

        if (Interlocked.Increment(ref _mapped) > Limit)
        {
            Evict();
        }
    }

    public void OnUnmapped() => Interlocked.Decrement(ref _mapped);

    private void Evict()
    {
        lock (_lock)
        {
            // Two turns of the hand at most: the first may only clear marks.
            for (var steps = 2 * _ring.Count; steps > 0 && Volatile.Read(ref _mapped) > Limit; steps--)
            {
                var node = _hand ?? _ring.First;
                if (node is null)
                {
                    return;
                }

                _hand = node.Next;
                var segment = node.Value;
                if (segment.RecentlyPinned)
                {
                    segment.RecentlyPinned = false;
                    continue;
                }

                segment.Unmap();
            }
        }
    }
}
