namespace Pyralog.Storage.Native.Memtables;

/// <summary>
/// Sorted map of keys to version chains for the key/value and internal spaces of a memtable.
/// One writer inserts (the commit leader); any number of readers traverse without locks, because a
/// node is fully built before the single volatile store that links it. Each key keeps its versions
/// newest first, tagged with the write's sequence, so a reader sees exactly the state of its snapshot.
/// </summary>
internal sealed class KvSkipList
{
    private const int MaxHeight = 16;
    private readonly Node _head = new([], 0, MaxHeight, tombstone: true, sequence: 0);
    private readonly Random _random = new(0x5eed);
    private int _height = 1;

    // Writer only. Invariant: _previous[i] for i below _height is a node linked at level i (_head before the first
    // insert) whose key is at most the key written last: after a new key, that key's own node at its levels, so a key
    // just above it (keys written in order, the common case for a batch) is linked there without a search. FollowsHint
    // checks a key against them before they are used; a search refills them.
    private readonly Node?[] _previous;

    public KvSkipList()
    {
        _previous = new Node?[MaxHeight];
        Array.Fill(_previous, _head);
    }

    public int Count { get; private set; }

    /// <summary>Adds a version of <paramref name="key"/>; returns the bytes it occupies. Writer only.</summary>
    public long Add(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool tombstone, ulong sequence)
    {
        var previous = _previous; // writer-only scratch: no allocation per insert
        var found = FollowsHint(key, previous, out var next) ? next : FindGreaterOrEqual(key, previous);
        if (found is not null && found.Key.SequenceEqual(key))
        {
            var version = new Version(tombstone ? [] : value.ToArray(), 0, tombstone, sequence) { Older = found.Latest };
            Volatile.Write(ref found.Latest, version);
            return 48 + value.Length;
        }

        var height = RandomHeight();
        if (height > _height)
        {
            for (var i = _height; i < height; i++)
            {
                previous[i] = _head;
            }

            Volatile.Write(ref _height, height);
        }

        // One array holds the key and its first value; the node is that first version (two allocations fewer a key).
        var data = GC.AllocateUninitializedArray<byte>(key.Length + (tombstone ? 0 : value.Length));
        key.CopyTo(data);
        if (!tombstone)
        {
            value.CopyTo(data.AsSpan(key.Length));
        }

        var node = new Node(data, key.Length, height, tombstone, sequence);
        node.Latest = node;
        for (var i = 0; i < height; i++)
        {
            node.Next[i] = previous[i]!.Next[i];
        }

        for (var i = 0; i < height; i++)
        {
            Volatile.Write(ref previous[i]!.Next[i], node);
            previous[i] = node; // the next key in order hangs after this node at its levels
        }

        Count++;
        return 96 + key.Length + value.Length + (height * 8);
    }

    /// <summary>
    /// Whether <paramref name="key"/> goes right after the last key inserted at every level: each hinted predecessor's key
    /// is below it and its successor at that level (if any) is not. Then <paramref name="next"/> is the first node at or
    /// above the key, as <see cref="FindGreaterOrEqual"/> would find it, and <paramref name="previous"/> holds the same
    /// predecessors.
    /// </summary>
    private bool FollowsHint(ReadOnlySpan<byte> key, Node?[] previous, out Node? next)
    {
        next = null;
        for (var level = _height - 1; level >= 0; level--)
        {
            var before = previous[level]!;
            if (before != _head && before.Key.SequenceCompareTo(key) >= 0)
            {
                return false;
            }

            var after = before.Next[level];
            if (after is not null && after.Key.SequenceCompareTo(key) < 0)
            {
                return false;
            }

            next = after;
        }

        return true;
    }

    /// <summary>The newest version of <paramref name="key"/> at or below <paramref name="sequence"/>.</summary>
    public Version? Find(ReadOnlySpan<byte> key, ulong sequence)
    {
        var node = FindGreaterOrEqual(key, default);
        return node is not null && node.Key.SequenceEqual(key) ? node.VisibleAt(sequence) : null;
    }

    /// <summary>First node whose key is ≥ <paramref name="key"/>, or null.</summary>
    public Node? Seek(ReadOnlySpan<byte> key) => FindGreaterOrEqual(key, default);

    public Node? First => Volatile.Read(ref _head.Next[0]);

    private Node? FindGreaterOrEqual(ReadOnlySpan<byte> key, Span<Node?> previous)
    {
        var x = _head;
        for (var level = Volatile.Read(ref _height) - 1; level >= 0; level--)
        {
            while (true)
            {
                var next = Volatile.Read(ref x.Next[level]);
                if (next is not null && next.Key.SequenceCompareTo(key) < 0)
                {
                    x = next;
                }
                else
                {
                    if (!previous.IsEmpty)
                    {
                        previous[level] = x;
                    }

                    if (level == 0)
                    {
                        return next;
                    }

                    break;
                }
            }
        }

        return null;
    }

    private int RandomHeight()
    {
        var height = 1;
        while (height < MaxHeight && (_random.Next() & 3) == 0)
        {
            height++;
        }

        return height;
    }

    /// <summary>A key, linked at its levels; it is also the key's first version (its value follows the key in one array).</summary>
    internal sealed class Node : Version
    {
        private readonly int _keyLength;
        public readonly Node?[] Next;

        // Invariant: the newest version of the key (this node itself until the key is written again); null only for the head.
        public Version? Latest;

        public Node(byte[] data, int keyLength, int height, bool tombstone, ulong sequence)
            : base(data, keyLength, tombstone, sequence)
        {
            _keyLength = keyLength;
            Next = new Node?[height];
        }

        public ReadOnlySpan<byte> Key => Data.AsSpan(0, _keyLength);

        public Node? NextNode => Volatile.Read(ref Next[0]);

        public Version? VisibleAt(ulong sequence)
        {
            var v = Volatile.Read(ref Latest);
            while (v is not null && v.Sequence > sequence)
            {
                v = v.Older;
            }

            return v;
        }
    }

    /// <summary>One value of a key: <c>Data[valueStart..]</c>, or a delete (<see cref="IsTombstone"/>).</summary>
    internal class Version(byte[] data, int valueStart, bool tombstone, ulong sequence)
    {
        protected readonly byte[] Data = data;
        private readonly int _valueStart = valueStart;
        public readonly ulong Sequence = sequence;
        public readonly bool IsTombstone = tombstone;
        public Version? Older;

        public ReadOnlySpan<byte> Value => Data.AsSpan(_valueStart);
    }
}
