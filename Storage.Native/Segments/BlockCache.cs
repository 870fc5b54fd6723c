namespace Pyralog.Storage.Native.Segments;

/// <summary>
/// Bounded LRU of verified segment blocks, sharded to keep lock hold times short under concurrent
/// readers. A hit skips the page fault and the CRC check; the byte bound is exact per shard.
/// </summary>
internal sealed class BlockCache
{
    private const int ShardCount = 16;
    private readonly Shard[] _shards;
    private long _hits;
    private long _misses;

    public BlockCache(long capacityBytes)
    {
        CapacityBytes = capacityBytes;
        _shards = new Shard[ShardCount];
        for (var i = 0; i < ShardCount; i++)
        {
            _shards[i] = new Shard(capacityBytes / ShardCount);
        }
    }

    public long CapacityBytes { get; }

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public long SizeBytes
    {
        get
        {
            long total = 0;
            foreach (var shard in _shards)
            {
                total += shard.Size;
            }

            return total;
        }
    }

    public byte[]? Get(long fileNumber, long blockPosition)
    {
        var block = ShardOf(fileNumber, blockPosition).Get(new BlockKey(fileNumber, blockPosition));
        if (block is null)
        {
            Interlocked.Increment(ref _misses);
        }
        else
        {
            Interlocked.Increment(ref _hits);
        }

        return block;
    }

    public void Add(long fileNumber, long blockPosition, byte[] block) =>
        ShardOf(fileNumber, blockPosition).Add(new BlockKey(fileNumber, blockPosition), block);

    /// <summary>Drops every block of a deleted segment so its memory is reusable at once.</summary>
    public void Evict(long fileNumber)
    {
        foreach (var shard in _shards)
        {
            shard.EvictFile(fileNumber);
        }
    }

    private Shard ShardOf(long fileNumber, long blockPosition) =>
        _shards[(int)((ulong)HashCode.Combine(fileNumber, blockPosition) % ShardCount)];

    private readonly record struct BlockKey(long FileNumber, long Position);

    private sealed class Shard(long capacity)
    {
        private readonly Dictionary<BlockKey, LinkedListNode<(BlockKey Key, byte[] Block)>> _map = [];
        private readonly LinkedList<(BlockKey Key, byte[] Block)> _lru = new();

        public long Size { get; private set; }

        public byte[]? Get(BlockKey key)
        {
            lock (_lru)
            {
                if (!_map.TryGetValue(key, out var node))
                {
                    return null;
                }

                _lru.Remove(node);
                _lru.AddFirst(node);
                return node.Value.Block;
            }
        }

        public void Add(BlockKey key, byte[] block)
        {
            if (block.Length > capacity)
            {
                return;
            }

            lock (_lru)
            {
                if (_map.ContainsKey(key))
                {
                    return;
                }

                while (Size + block.Length > capacity && _lru.Last is { } last)
                {
                    _lru.RemoveLast();
                    _map.Remove(last.Value.Key);
                    Size -= last.Value.Block.Length;
                }

                _map[key] = _lru.AddFirst((key, block));
                Size += block.Length;
            }
        }

        public void EvictFile(long fileNumber)
        {
            lock (_lru)
            {
                var node = _lru.First;
                while (node is not null)
                {
                    var next = node.Next;
                    if (node.Value.Key.FileNumber == fileNumber)
                    {
                        _lru.Remove(node);
                        _map.Remove(node.Value.Key);
                        Size -= node.Value.Block.Length;
                    }

                    node = next;
                }
            }
        }
    }
}
