namespace Pyralog.Storage.Native.Memtables;

/// <summary>
/// The writing side of a memtable's arena: bump allocation in the chunk being filled, a pooled chunk when it is full,
/// and an array of its own for an allocation larger than a chunk. Allocations in a chunk start at
/// <paramref name="start"/> (the skip list keeps position 0 free, so a zero reference means none). Writer only; the
/// pooled chunks it took go back in <see cref="Return"/>, once no reader can reach them.
/// </summary>
internal sealed class ArenaWriter(ArenaPool pool, int start)
{
    private readonly List<byte[]> _pooled = [];
    private byte[]? _chunk;
    private int _used;

    /// <summary>
    /// Reserves <paramref name="bytes"/> at <paramref name="at"/> of <paramref name="chunk"/> (uninitialized: the caller
    /// writes every byte a reader can reach before publishing it). True when the chunk is new since the last call: the
    /// caller adds it to its chunk table before anything in it is published.
    /// </summary>
    public bool Allocate(int bytes, out byte[] chunk, out int at)
    {
        var fresh = false;
        if (_chunk is null || _used + bytes > _chunk.Length)
        {
            if (start + bytes <= ArenaPool.ChunkBytes)
            {
                _chunk = pool.Rent();
                _pooled.Add(_chunk);
            }
            else
            {
                _chunk = GC.AllocateUninitializedArray<byte>(start + bytes);
            }

            _used = start;
            fresh = true;
        }

        chunk = _chunk;
        at = _used;
        _used += bytes;
        return fresh;
    }

    /// <summary>Hands the pooled chunks back to the pool.</summary>
    public void Return() => pool.Return(_pooled);
}
