using System.Numerics;

namespace Pyralog.Storage.Native.Segments;

/// <summary>
/// Bounded LRU of verified segment blocks, sharded to keep lock hold times short under concurrent
/// readers. A hit skips the page fault and the CRC check; the byte bound is exact per shard.
/// <para>
/// A block enters on its second miss within a while, not its first (<see cref="AdmitOnMiss"/>): caching copies the
/// block, and point reads spread over far more data than the cache holds copied a block per read only to evict it
/// soon (<c>kv-get</c>, random keys over ~400 MB with a 32 MiB cache: 18 % of its CPU samples were the GC clearing fresh
/// pages for those copies). A block read once is served from the segment's mapping instead, without a copy.
/// </para>
/// </summary>
internal sealed class BlockCache
{
    private const int ShardCount = 16;
    private readonly Shard[] _shards;

    // The doorkeeper: per slot, the hash of the last block that missed there and was not admitted (0: none). Races
    // between readers only admit a block a miss early or late.
    private readonly long[] _missedOnce;
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

        // Two slots per 4 KiB block the cache can hold, a power of two between 1 Ki and 1 Mi (8 KiB to 8 MiB).
        _missedOnce = new long[(int)BitOperations.RoundUpToPowerOf2((ulong)Math.Clamp(capacityBytes / 2048, 1024, 1 << 20))];
    }

    /// <summary>
    /// Called on a miss: true when the same block missed recently and was not admitted then (cache it now); otherwise
    /// remembers this miss and returns false (serve the block without caching it).
    /// </summary>
    public bool AdmitOnMiss(long fileNumber, long blockPosition)
    {
        var hash = (long)(((ulong)fileNumber * 0x9E3779B97F4A7C15UL) ^ ((ulong)blockPosition * 0xC2B2AE3D27D4EB4FUL)) | 1;
        ref var slot = ref _missedOnce[(int)((ulong)hash >> 40) & (_missedOnce.Length - 1)];
        if (Volatile.Read(ref slot) == hash)
        {
            Volatile.Write(ref slot, 0);
            return true;
        }

        Volatile.Write(ref slot, hash);
        return false;
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
