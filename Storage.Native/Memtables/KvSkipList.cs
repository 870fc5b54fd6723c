using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Pyralog.Storage.Native.Memtables;

/// <summary>
/// Sorted map of keys to version chains for the key/value and internal spaces of a memtable, laid out in arena
/// chunks (RocksDB's InlineSkipList is the model): a node is its links, its key and its first version, back to back in
/// a pooled 1 MiB chunk, and links are chunk positions, not object references. A memtable of a million keys is a few
/// dozen chunks to the GC instead of three million objects that every collection would trace and promote; the write
/// path's cost was mostly that.
/// One writer inserts (the commit loop); any number of readers traverse without locks, because every byte of a node or
/// version is written before the single volatile store that links it. Each key keeps its versions newest first, tagged
/// with the write's sequence, so a reader sees exactly the state of its snapshot. The chunks go back to the pool when
/// the owning memtable's last reference is released (<see cref="ReturnChunks"/>).
/// </summary>
internal sealed class KvSkipList(ArenaPool arenas)
{
    private const int MaxHeight = 16;

    // A reference is (chunk index << 32) | position; allocations start at ChunkStart, so 0 is never a node: it is null
    // as a link and the head as a predecessor (links never point at the head).
    private const int ChunkStart = 8;
    private const long Head = 0;

    // Node layout, every field 8-aligned: latest version (long), key length (int), height (int), links (long × height),
    // key bytes; the key's first version follows in the same allocation.
    private const int NodeLatest = 0;
    private const int NodeKeyLength = 8;
    private const int NodeHeight = 12;
    private const int NodeLinks = 16;

    // Version layout: older version (long), sequence (ulong), value length (int, -1 for a delete), value bytes.
    private const int VersionOlder = 0;
    private const int VersionSequence = 8;
    private const int VersionLength = 16;
    private const int VersionValue = 20;

    private readonly long[] _headLinks = new long[MaxHeight];
    private readonly Random _random = new(0x5eed);
    private readonly ArenaWriter _arena = new(arenas, ChunkStart);

    // Invariant: chunks [0, _chunkCount) never move; a grown table is a full copy published (volatile) before any link
    // to a node in a new chunk is.
    private byte[][] _chunks = new byte[4][];
    private int _chunkCount;
    private int _height = 1;

    // Writer only. Invariant: _previous[i] for i below _height is a node linked at level i (Head before the first
    // insert) whose key is at most the key written last: after a new key, that key's own node at its levels, so a key
    // just above it (keys written in order, the common case for a batch) is linked there without a search. FollowsHint
    // checks a key against them before they are used; a search refills them.
    private readonly long[] _previous = new long[MaxHeight];

    public int Count { get; private set; }

    /// <summary>Adds a version of <paramref name="key"/>; returns the arena bytes it took. Writer only.</summary>
    public long Add(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool tombstone, ulong sequence)
    {
        var previous = _previous;
        var found = FollowsHint(key, previous, out var next) ? next : FindGreaterOrEqual(key, previous);
        if (found != 0 && KeyAt(found).SequenceEqual(key))
        {
            var versionBytes = VersionBytes(value, tombstone);
            var version = Allocate(versionBytes, out var versionChunk, out var versionAt);
            WriteVersion(versionChunk, versionAt, Volatile.Read(ref Field(found, NodeLatest)), value, tombstone, sequence);
            Volatile.Write(ref Field(found, NodeLatest), version);
            return versionBytes;
        }

        var height = RandomHeight();
        if (height > _height)
        {
            for (var i = _height; i < height; i++)
            {
                previous[i] = Head;
            }

            Volatile.Write(ref _height, height);
        }

        var keyBytes = Align(NodeLinks + (height * sizeof(long)) + key.Length);
        var bytes = keyBytes + VersionBytes(value, tombstone);
        var node = Allocate(bytes, out var chunk, out var at);
        var first = node + keyBytes;
        BinaryPrimitives.WriteInt32LittleEndian(chunk.AsSpan(at + NodeKeyLength), key.Length);
        BinaryPrimitives.WriteInt32LittleEndian(chunk.AsSpan(at + NodeHeight), height);
        key.CopyTo(chunk.AsSpan(at + NodeLinks + (height * sizeof(long))));
        WriteVersion(chunk, at + keyBytes, 0, value, tombstone, sequence);
        Unsafe.As<byte, long>(ref chunk[at + NodeLatest]) = first;
        for (var i = 0; i < height; i++)
        {
            Unsafe.As<byte, long>(ref chunk[at + NodeLinks + (i * sizeof(long))]) = Volatile.Read(ref Link(previous[i], i));
        }

        for (var i = 0; i < height; i++)
        {
            Volatile.Write(ref Link(previous[i], i), node);
            previous[i] = node; // the next key in order hangs after this node at its levels
        }

        Count++;
        return bytes;
    }

    /// <summary>The newest version of <paramref name="key"/> at or below <paramref name="sequence"/>.</summary>
    public bool TryFind(ReadOnlySpan<byte> key, ulong sequence, out KvVersion version)
    {
        var node = FindGreaterOrEqual(key, default);
        version = node != 0 && KeyAt(node).SequenceEqual(key) ? new KvNode(this, node).VisibleAt(sequence) : default;
        return !version.IsNull;
    }

    /// <summary>First node whose key is ≥ <paramref name="key"/> (null at the end).</summary>
    public KvNode Seek(ReadOnlySpan<byte> key) => new(this, FindGreaterOrEqual(key, default));

    public KvNode First => new(this, Volatile.Read(ref _headLinks[0]));

    /// <summary>Hands the pooled chunks back once no reader can reach them (the memtable's last reference went).</summary>
    public void ReturnChunks() => _arena.Return();

    internal ReadOnlySpan<byte> KeyAt(long node)
    {
        var chunk = ChunkOf(node);
        var at = (int)(uint)node;
        var height = BinaryPrimitives.ReadInt32LittleEndian(chunk.AsSpan(at + NodeHeight));
        return chunk.AsSpan(at + NodeLinks + (height * sizeof(long)), BinaryPrimitives.ReadInt32LittleEndian(chunk.AsSpan(at + NodeKeyLength)));
    }

    internal long NextAt(long node) => Volatile.Read(ref Link(node, 0));

    internal long LatestAt(long node) => Volatile.Read(ref Field(node, NodeLatest));

    internal long OlderAt(long version) => Field(version, VersionOlder); // written before the version was linked

    internal ulong SequenceAt(long version) => (ulong)Field(version, VersionSequence);

    internal bool IsTombstoneAt(long version) => BinaryPrimitives.ReadInt32LittleEndian(ChunkOf(version).AsSpan((int)(uint)version + VersionLength)) < 0;

    internal ReadOnlySpan<byte> ValueAt(long version)
    {
        var chunk = ChunkOf(version);
        var at = (int)(uint)version;
        var length = BinaryPrimitives.ReadInt32LittleEndian(chunk.AsSpan(at + VersionLength));
        return length < 0 ? default : chunk.AsSpan(at + VersionValue, length);
    }

    /// <summary>
    /// Whether <paramref name="key"/> goes right after the last key inserted at every level: each hinted predecessor's key
    /// is below it and its successor at that level (if any) is not. Then <paramref name="next"/> is the first node at or
    /// above the key, as <see cref="FindGreaterOrEqual"/> would find it, and <paramref name="previous"/> holds the same
    /// predecessors.
    /// </summary>
    private bool FollowsHint(ReadOnlySpan<byte> key, long[] previous, out long next)
    {
        next = 0;
        for (var level = _height - 1; level >= 0; level--)
        {
            var before = previous[level];
            if (before != Head && KeyAt(before).SequenceCompareTo(key) >= 0)
            {
                return false;
            }

            var after = Link(before, level);
            if (after != 0 && KeyAt(after).SequenceCompareTo(key) < 0)
            {
                return false;
            }

            next = after;
        }

        return true;
    }

    private long FindGreaterOrEqual(ReadOnlySpan<byte> key, Span<long> previous)
    {
        var x = Head;
        for (var level = Volatile.Read(ref _height) - 1; level >= 0; level--)
        {
            while (true)
            {
                var next = Volatile.Read(ref Link(x, level));
                if (next != 0 && KeyAt(next).SequenceCompareTo(key) < 0)
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

        return 0;
    }

    private ref long Link(long node, int level) =>
        ref node == Head ? ref _headLinks[level] : ref Field(node, NodeLinks + (level * sizeof(long)));

    private ref long Field(long reference, int offset) =>
        ref Unsafe.As<byte, long>(ref ChunkOf(reference)[(int)(uint)reference + offset]);

    private byte[] ChunkOf(long reference) => Volatile.Read(ref _chunks)[(int)(reference >> 32)];

    private static int VersionBytes(ReadOnlySpan<byte> value, bool tombstone) => Align(VersionValue + (tombstone ? 0 : value.Length));

    private static int Align(int bytes) => (bytes + 7) & ~7;

    private static void WriteVersion(byte[] chunk, int at, long older, ReadOnlySpan<byte> value, bool tombstone, ulong sequence)
    {
        Unsafe.As<byte, long>(ref chunk[at + VersionOlder]) = older;
        Unsafe.As<byte, ulong>(ref chunk[at + VersionSequence]) = sequence;
        BinaryPrimitives.WriteInt32LittleEndian(chunk.AsSpan(at + VersionLength), tombstone ? -1 : value.Length);
        if (!tombstone)
        {
            value.CopyTo(chunk.AsSpan(at + VersionValue));
        }
    }

    /// <summary>Reserves <paramref name="bytes"/> (8-aligned) in the arena; returns its reference.</summary>
    private long Allocate(int bytes, out byte[] chunk, out int at)
    {
        if (_arena.Allocate(bytes, out chunk, out at))
        {
            AddChunk(chunk);
        }

        return ((long)(_chunkCount - 1) << 32) | (uint)at;
    }

    private void AddChunk(byte[] chunk)
    {
        if (_chunkCount == _chunks.Length)
        {
            var larger = new byte[_chunks.Length * 2][];
            Array.Copy(_chunks, larger, _chunks.Length);
            Volatile.Write(ref _chunks, larger);
        }

        _chunks[_chunkCount++] = chunk;
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
}
