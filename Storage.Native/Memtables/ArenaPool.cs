namespace Pyralog.Storage.Native.Memtables;

/// <summary>
/// The memtables' 1 MiB arena chunks, reused once a flushed memtable's last reader let go. Without it a busy
/// store allocates its whole write rate on the large-object heap, and the gen-2 collections that follow show
/// up as the append path's tail latency. Holds at most the chunks of the memtables the options allow.
/// </summary>
internal sealed class ArenaPool(int maxChunks)
{
    public const int ChunkBytes = 1 << 20;

    private readonly Stack<byte[]> _free = new();

    /// <summary>Chunks waiting to be reused.</summary>
    public int FreeChunks
    {
        get
        {
            lock (_free)
            {
                return _free.Count;
            }
        }
    }

    /// <summary>A chunk of <see cref="ChunkBytes"/>, reused or new (uninitialized: the memtable writes every byte a reader can reach).</summary>
    public byte[] Rent()
    {
        lock (_free)
        {
            if (_free.TryPop(out var chunk))
            {
                return chunk;
            }
        }

        return GC.AllocateUninitializedArray<byte>(ChunkBytes);
    }

    /// <summary>Takes back chunks no reader can reach any more.</summary>
    public void Return(List<byte[]> chunks)
    {
        lock (_free)
        {
            foreach (var chunk in chunks)
            {
                if (_free.Count >= maxChunks)
                {
                    return;
                }

                _free.Push(chunk);
            }
        }
    }
}
