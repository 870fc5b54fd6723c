namespace Pyralog.Storage.Native.Devices;

/// <summary>An open file of an <see cref="IStorageDevice"/>: positional writes, length changes and data syncs.
/// Data written is durable only after <see cref="SyncData"/>.</summary>
internal abstract class DeviceFile : IDisposable
{
    protected DeviceFile(string path)
    {
        Path = path;
    }

    public string Path { get; }

    public abstract long Length { get; }

    public abstract void Write(ReadOnlySpan<byte> data, long offset);

    /// <summary>One gathered write (pwritev) of <paramref name="buffers"/> back to back at <paramref name="offset"/>.</summary>
    public abstract void Write(IReadOnlyList<ReadOnlyMemory<byte>> buffers, long offset);

    public abstract void SetLength(long length);

    /// <summary>Drops the clean pages wholly inside [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>)
    /// from the page cache: a hint (pages still dirty or mapped stay), never an error.</summary>
    public abstract void DropCachedPages(long offset, long length);

    /// <summary>
    /// Waits until [<paramref name="waitOffset"/>, <paramref name="offset"/>) is written to the disk, then starts writing
    /// [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) without waiting. Makes nothing
    /// durable (no disk cache flush, no metadata: only <see cref="SyncData"/> does): it paces a large file's writeback.
    /// Throws an <see cref="IOException"/> when the wait reports a failed writeback of the file: the kernel reports one to
    /// a single waiter per descriptor, so a later <see cref="SyncData"/> would succeed over the lost pages, and the caller
    /// must fail the file's sync itself (see <see cref="BufferedFileWriter.FlushToDisk"/>).
    /// </summary>
    public abstract void WriteBack(long waitOffset, long offset, long length);

    /// <summary>fdatasync: the data and the size needed to read it back are durable on return. Throws
    /// <see cref="ObjectDisposedException"/> once the file is disposed (a timer may race a close).</summary>
    public abstract void SyncData();

    public abstract void Dispose();
}
