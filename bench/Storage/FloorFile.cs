using Microsoft.Win32.SafeHandles;
using Pyralog.Storage.Native.Native;

namespace Pyralog.Bench.Storage;

/// <summary>
/// A floor's file as the engine's WAL is one: zero-filled to its full length and synced once before any write is timed,
/// then written round and round (as a recycled WAL is written over), so a write never grows the file and its fdatasync
/// flushes data only, with no journal commit for a size change (see <c>WriteAheadLog.Create</c>). Zeros are written,
/// not fallocated: an fallocated extent is "unwritten" on ext4 and its first write converts it, a journal commit again.
/// Deleted on dispose.
/// </summary>
internal sealed class FloorFile : IDisposable
{
    private const int FillChunk = 1 << 20;
    private readonly SafeFileHandle _handle;
    private long _position;

    public FloorFile(string path, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        Path = path;
        Length = length;
        _handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        try
        {
            var zeros = new byte[(int)Math.Min(FillChunk, length)];
            for (long at = 0; at < length; at += zeros.Length)
            {
                RandomAccess.Write(_handle, zeros.AsSpan(0, (int)Math.Min(zeros.Length, length - at)), at);
            }

            LibC.SyncData(_handle, path);
        }
        catch
        {
            _handle.Dispose();
            File.Delete(path);
            throw;
        }
    }

    public string Path { get; }

    /// <summary>The file's length, which no write changes.</summary>
    public long Length { get; }

    /// <summary>Writes <paramref name="data"/> after the last write (at the start again when it would not fit before the end), then fdatasync.</summary>
    public void WriteAndSync(ReadOnlySpan<byte> data)
    {
        if (data.Length > Length)
        {
            throw new ArgumentException($"a write of {data.Length} bytes does not fit the floor file '{Path}' of {Length} bytes", nameof(data));
        }

        if (_position + data.Length > Length)
        {
            _position = 0;
        }

        RandomAccess.Write(_handle, data, _position);
        LibC.SyncData(_handle, Path);
        _position += data.Length;
    }

    public void Dispose()
    {
        _handle.Dispose();
        File.Delete(Path);
    }
}
