using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using Pyralog.Storage.Native.Hashing;
using Pyralog.Storage.Native.Native;

namespace Pyralog.Storage.Native.Obelisk;

/*
 * ObeliskSequencer: a persistent, strictly increasing 64-bit counter whose durable high-water mark is the
 * size of a sparse file.
 *
 * Guarantee: a value is returned only after a high-water above it is durable (file extended and fsynced),
 * so after any crash — process kill, power loss — a recovered sequencer starts at or above every value the
 * previous incarnation could have returned. Values are never reissued.
 *
 * Why a file size: extending a sparse file is one ftruncate plus one fsync, with no data blocks written and
 * nothing to parse on recovery but the size. Extending is not durable until synced, so the sequencer reserves
 * a block of values ahead (one extend + fsync per block) and hands values out of the reserved block from
 * memory with one compare-and-swap each: the per-value cost stays in nanoseconds.
 *
 * Layout: a 32-byte header (magic "PYRAOBLK", format version, unit shift, CRC32C of the header) followed by
 * sparse space. The high-water is (file length − header) << unitShift, so a counter whose values are
 * "milliseconds × 8192 + sequence" (unit shift 13) needs a file only as long as its millisecond count.
 * A header that does not check out, or a file shorter than its header, is reported as a damaged counter file
 * naming the path; it is never guessed at.
 */

/// <summary>
/// A crash-safe counter whose durable high-water is the size of a sparse file. Thread-safe.
/// </summary>
public sealed class ObeliskSequencer : IDisposable
{
    public const int HeaderSize = 32;
    public const int FormatVersion = 1;

    private static ReadOnlySpan<byte> Magic => "PYRAOBLK"u8;

    private readonly SafeFileHandle _file;
    private readonly object _extendLock = new();
    private readonly int _unitShift;
    private readonly ulong _blockSize;
    private ulong _next;
    private ulong _durable;
    private long _extensions;
    private bool _disposed;

    private ObeliskSequencer(string path, SafeFileHandle file, int unitShift, ulong blockSize, ulong recovered)
    {
        Path = path;
        _file = file;
        _unitShift = unitShift;
        _blockSize = blockSize;
        Recovered = recovered;
        _next = recovered;
        _durable = recovered;
    }

    /// <summary>The counter file.</summary>
    public string Path { get; }

    /// <summary>The high-water found on opening: every value any earlier incarnation returned is below it.</summary>
    public ulong Recovered { get; }

    /// <summary>The durable high-water now: every value returned so far is below it.</summary>
    public ulong DurableHighWater => Volatile.Read(ref _durable);

    /// <summary>The value <see cref="Next"/> would return (without reserving it).</summary>
    public ulong Peek => Volatile.Read(ref _next);

    /// <summary>How many extend + fsync rounds this instance has made.</summary>
    public long Extensions => Interlocked.Read(ref _extensions);

    /// <summary>Creates a new counter file at zero; fails if the file exists.</summary>
    /// <param name="path">The counter file.</param>
    /// <param name="unitShift">The file grows by one byte per 2^unitShift values (0..32).</param>
    /// <param name="blockSize">Values reserved ahead per extend + fsync.</param>
    public static ObeliskSequencer Create(string path, int unitShift = 0, ulong blockSize = 4096)
    {
        ValidateOptions(unitShift, blockSize);
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);

        // Written complete under a temporary name and renamed into place: a crash mid-create leaves no short file
        // under the real name (which would read as damaged), only a temporary one the next create overwrites.
        var temporary = path + ".new";
        using (var file = OpenHandle(temporary, FileMode.Create))
        {
            Span<byte> header = stackalloc byte[HeaderSize];
            WriteHeader(header, unitShift);
            RandomAccess.Write(file, header, 0);
            RandomAccess.FlushToDisk(file);
        }

        try
        {
            File.Move(temporary, path, overwrite: false);
        }
        catch (IOException e)
        {
            File.Delete(temporary);
            throw new IOException($"Cannot create obelisk counter file '{path}': {e.Message}", e);
        }

        LibC.SyncDirectory(directory);
        return Recover(path, unitShift, blockSize);
    }

    /// <summary>Opens an existing counter file and resumes above its durable high-water.</summary>
    /// <exception cref="InvalidDataException">The file is damaged or was written with other options; the message names the file.</exception>
    public static ObeliskSequencer Recover(string path, int unitShift = 0, ulong blockSize = 4096)
    {
        ValidateOptions(unitShift, blockSize);
        var file = OpenHandle(path, FileMode.Open);
        try
        {
            var length = RandomAccess.GetLength(file);
            if (length < HeaderSize)
            {
                throw new InvalidDataException(
                    $"Obelisk counter file '{path}' is damaged: it is {length} bytes long, shorter than its {HeaderSize}-byte header.");
            }

            Span<byte> header = stackalloc byte[HeaderSize];
            var read = RandomAccess.Read(file, header, 0);
            if (read != HeaderSize)
            {
                throw new InvalidDataException($"Obelisk counter file '{path}' is damaged: its header could not be read in full.");
            }

            var storedShift = CheckHeader(header, path);
            if (storedShift != unitShift)
            {
                throw new InvalidDataException(
                    $"Obelisk counter file '{path}' counts in units of 2^{storedShift} values, but it was opened with 2^{unitShift}.");
            }

            var units = (ulong)(length - HeaderSize);
            if (units > ulong.MaxValue >> unitShift)
            {
                throw new InvalidDataException($"Obelisk counter file '{path}' is damaged: its length {length} exceeds the counter's range.");
            }

            return new ObeliskSequencer(path, file, unitShift, blockSize, units << unitShift);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Recovers the counter file if it exists, otherwise creates it.</summary>
    public static ObeliskSequencer Open(string path, int unitShift = 0, ulong blockSize = 4096) =>
        File.Exists(path) ? Recover(path, unitShift, blockSize) : Create(path, unitShift, blockSize);

    /// <summary>The next value.</summary>
    public ulong Next() => NextAtLeast(0, 1);

    /// <summary>The first of <paramref name="count"/> consecutive values, all yours.</summary>
    public ulong NextBlock(ulong count) => NextAtLeast(0, count);

    /// <summary>
    /// The first of <paramref name="count"/> consecutive values, the first of them at least <paramref name="floor"/>:
    /// the counter jumps forward to the floor if it is behind (a time-based counter passes the clock here).
    /// </summary>
    public ulong NextAtLeast(ulong floor, ulong count) =>
        TryNextAtLeast(floor, count, ulong.MaxValue, out var first) ? first : throw new OverflowException($"Obelisk counter '{Path}' is exhausted.");

    /// <summary>
    /// As <see cref="NextAtLeast"/>, but only if every value reserved is below <paramref name="limit"/>; otherwise false,
    /// with nothing reserved or made durable (a counter whose values encode a bounded format never records a value
    /// past the format's end, so a bad input cannot poison the file for good).
    /// </summary>
    public bool TryNextAtLeast(ulong floor, ulong count, ulong limit, out ulong first)
    {
        if (count == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "At least one value must be reserved.");
        }

        ulong end;
        var current = Volatile.Read(ref _next);
        while (true)
        {
            first = Math.Max(current, floor);
            if (first > limit || count > limit - first)
            {
                first = 0;
                return false;
            }

            end = first + count;
            var seen = Interlocked.CompareExchange(ref _next, end, current);
            if (seen == current)
            {
                break;
            }

            current = seen;
        }

        if (end > Volatile.Read(ref _durable))
        {
            Extend(end, limit);
        }

        return true;
    }

    /// <summary>
    /// Makes a high-water of at least <paramref name="end"/> durable, a block ahead but never past <paramref name="limit"/>;
    /// concurrent callers share one fsync.
    /// </summary>
    private void Extend(ulong end, ulong limit)
    {
        lock (_extendLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (end <= _durable)
            {
                return;
            }

            var target = _blockSize > limit - end ? limit : end + _blockSize;

            var units = (target >> _unitShift) + ((target & ((1UL << _unitShift) - 1)) != 0 ? 1UL : 0UL);
            try
            {
                RandomAccess.SetLength(_file, HeaderSize + checked((long)units));
                RandomAccess.FlushToDisk(_file);
            }
            catch (IOException e)
            {
                throw new IOException($"Could not extend obelisk counter file '{Path}' to {HeaderSize + (long)units} bytes: {e.Message}", e);
            }

            Interlocked.Increment(ref _extensions);
            Volatile.Write(ref _durable, units << _unitShift);
        }
    }

    public void Dispose()
    {
        lock (_extendLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _file.Dispose();
        }
    }

    private static SafeFileHandle OpenHandle(string path, FileMode mode)
    {
        try
        {
            return File.OpenHandle(path, mode, FileAccess.ReadWrite, FileShare.None);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException && e is not FileNotFoundException)
        {
            throw new IOException($"Cannot open obelisk counter file '{path}': {e.Message}", e);
        }
    }

    private static void ValidateOptions(int unitShift, ulong blockSize)
    {
        if ((uint)unitShift > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(unitShift), unitShift, "The unit shift must be in 0..32.");
        }

        if (blockSize == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "The reservation block must hold at least one value.");
        }
    }

    private static void WriteHeader(Span<byte> header, int unitShift)
    {
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], unitShift);
        BinaryPrimitives.WriteUInt32LittleEndian(header[28..], Crc32C.Compute(header[..28]));
    }

    private static int CheckHeader(ReadOnlySpan<byte> header, string path)
    {
        if (!header[..8].SequenceEqual(Magic))
        {
            throw new InvalidDataException($"Obelisk counter file '{path}' is damaged or not a counter file: bad magic at offset 0.");
        }

        var crc = BinaryPrimitives.ReadUInt32LittleEndian(header[28..]);
        if (crc != Crc32C.Compute(header[..28]))
        {
            throw new InvalidDataException($"Obelisk counter file '{path}' is damaged: header checksum mismatch at offset 28.");
        }

        var version = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        if (version != FormatVersion)
        {
            throw new InvalidDataException(
                $"Obelisk counter file '{path}' has format version {version}; this build reads version {FormatVersion}.");
        }

        return BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
    }
}
