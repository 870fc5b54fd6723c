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
    private readonly Node _head = new([], MaxHeight);
    private readonly Random _random = new(0x5eed);
    private readonly Node?[] _previous = new Node?[MaxHeight];
    private int _height = 1;

    public int Count { get; private set; }

    /// <summary>Adds a version of <paramref name="key"/>; returns the bytes it occupies. Writer only.</summary>
    public long Add(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool tombstone, ulong sequence)
    {
        var previous = _previous; // writer-only scratch: no allocation per insert
        var found = FindGreaterOrEqual(key, previous);
        var version = new Version(tombstone ? null : value.ToArray(), sequence);
        if (found is not null && found.Key.AsSpan().SequenceEqual(key))
        {
            version.Older = found.Latest;
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

        var node = new Node(key.ToArray(), height) { Latest = version };
        for (var i = 0; i < height; i++)
        {
            node.Next[i] = previous[i]!.Next[i];
        }

        for (var i = 0; i < height; i++)
        {
            Volatile.Write(ref previous[i]!.Next[i], node);
        }

        Count++;
        return 96 + key.Length + value.Length + (height * 8);
    }

    /// <summary>The newest version of <paramref name="key"/> at or below <paramref name="sequence"/>.</summary>
    public Version? Find(ReadOnlySpan<byte> key, ulong sequence)
    {
        var node = FindGreaterOrEqual(key, default);
        return node is not null && node.Key.AsSpan().SequenceEqual(key) ? node.VisibleAt(sequence) : null;
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
                if (next is not null && next.Key.AsSpan().SequenceCompareTo(key) < 0)
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

    internal sealed class Node(byte[] key, int height)
    {
        public readonly byte[] Key = key;
        public readonly Node?[] Next = new Node?[height];
        public Version? Latest;

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

    /// <summary>One value of a key; <see cref="Value"/> null marks a delete.</summary>
    internal sealed class Version(byte[]? value, ulong sequence)
    {
        public readonly byte[]? Value = value;
        public readonly ulong Sequence = sequence;
        public Version? Older;
    }
}
