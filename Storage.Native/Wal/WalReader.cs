using System.Runtime.CompilerServices;
using System.Buffers;
using System.Buffers.Binary;
using Pyralog.Storage.Native.Hashing;

namespace Pyralog.Storage.Native.Wal;

/// <summary>
/// Recovery side of <see cref="WriteAheadLog"/>. Keeps the longest prefix of valid frames. A bad frame
/// at the end of the newest file is a torn write (never acknowledged) and is dropped and reported;
/// a bad frame followed by any valid frame, or in an older file, is corruption of acknowledged data
/// and stops recovery with a <see cref="PyramidCorruptionException"/> naming the file and position.
/// </summary>
internal static class WalReader
{
    private const int MinPayload = WriteBatch.PayloadHeaderBytes;
    private const int MaxPayload = 1 << 30;
    private const int WindowBytes = 8 << 20;

    /// <param name="previousSequence">Sequence of the last frame before this file (0 if none); updated.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot on recovery: skip tier-0 code
    public static WalFileReplay Replay(string path, bool isNewestFile, ulong skipThroughSequence, ref ulong previousSequence, IWalFrameSink sink)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var length = RandomAccess.GetLength(handle);
        if (length < WriteAheadLog.HeaderBytes)
        {
            if (!isNewestFile)
            {
                throw new PyramidCorruptionException(path, 0, $"log file is {length} bytes, shorter than its header");
            }

            return new WalFileReplay(0, length, 0, previousSequence);
        }

        Span<byte> header = stackalloc byte[WriteAheadLog.HeaderBytes];
        RandomAccess.Read(handle, header, 0);
        if (BinaryPrimitives.ReadUInt32LittleEndian(header) != WriteAheadLog.Magic)
        {
            throw new PyramidCorruptionException(path, 0, "bad write-ahead log magic");
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
        if (version > WriteAheadLog.FormatVersion)
        {
            throw new NotSupportedException(
                $"'{path}' has write-ahead log format version {version}; this build reads up to {WriteAheadLog.FormatVersion}. Open the store with a newer Pyralog.");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(WindowBytes);
        try
        {
            long windowStart = 0;
            var windowLength = 0;
            long position = WriteAheadLog.HeaderBytes;
            long frames = 0;
            while (position < length)
            {
                if (!TryReadFrame(handle, length, position, ref buffer, ref windowStart, ref windowLength, previousSequence, strictSequence: true, out var frameLength))
                {
                    if (!isNewestFile)
                    {
                        throw new PyramidCorruptionException(path, position, "damaged frame in a write-ahead log file that was complete");
                    }

                    var later = FindLaterFrame(handle, length, position, previousSequence, ref buffer, ref windowStart, ref windowLength);
                    if (later >= 0)
                    {
                        throw new PyramidCorruptionException(path, position,
                            $"damaged frame followed by a valid frame at byte {later}: acknowledged data was damaged, not torn");
                    }

                    return new WalFileReplay(position, length - position, frames, previousSequence);
                }

                var frame = buffer.AsSpan((int)(position - windowStart), frameLength);
                var sequence = BinaryPrimitives.ReadUInt64LittleEndian(frame[8..]);
                if (sequence > skipThroughSequence)
                {
                    sink.ApplyFrame(sequence, BinaryPrimitives.ReadInt64LittleEndian(frame[16..]),
                        BinaryPrimitives.ReadInt32LittleEndian(frame[24..]), frame[WriteBatch.HeaderBytes..]);
                }

                previousSequence = sequence;
                position += frameLength;
                frames++;
            }

            return new WalFileReplay(position, 0, frames, previousSequence);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot on recovery: skip tier-0 code
    private static bool TryReadFrame(
        Microsoft.Win32.SafeHandles.SafeFileHandle handle, long fileLength, long position, ref byte[] buffer, ref long windowStart, ref int windowLength,
        ulong previousSequence, bool strictSequence, out int frameLength)
    {
        frameLength = 0;
        if (fileLength - position < WriteBatch.HeaderBytes)
        {
            return false;
        }

        Ensure(handle, fileLength, position, WriteBatch.HeaderBytes, ref buffer, ref windowStart, ref windowLength);
        var at = (int)(position - windowStart);
        var payloadLength = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(at));
        if (payloadLength < MinPayload || payloadLength > MaxPayload || position + 8 + payloadLength > fileLength)
        {
            return false;
        }

        var sequence = BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(at + 8));
        var sequenceOk = previousSequence == 0
            ? sequence > 0
            : strictSequence ? sequence == previousSequence + 1 : sequence > previousSequence && sequence - previousSequence < 1_000_000;
        if (!sequenceOk)
        {
            return false;
        }

        Ensure(handle, fileLength, position, 8 + payloadLength, ref buffer, ref windowStart, ref windowLength);
        var frame = buffer.AsSpan((int)(position - windowStart), 8 + payloadLength);
        var crc = Crc32C.Append(Crc32C.Compute(frame[..4]), frame[8..]);
        if (crc != BinaryPrimitives.ReadUInt32LittleEndian(frame[4..]))
        {
            return false;
        }

        frameLength = 8 + payloadLength;
        return true;
    }

    private static long FindLaterFrame(
        Microsoft.Win32.SafeHandles.SafeFileHandle handle, long fileLength, long badPosition, ulong previousSequence,
        ref byte[] buffer, ref long windowStart, ref int windowLength)
    {
        for (var candidate = badPosition + 1; candidate + WriteBatch.HeaderBytes <= fileLength; candidate++)
        {
            if (TryReadFrame(handle, fileLength, candidate, ref buffer, ref windowStart, ref windowLength, previousSequence, strictSequence: false, out _))
            {
                return candidate;
            }
        }

        return -1;
    }

    /// <summary>Makes <c>[position, position + count)</c> resident in the buffer window.</summary>
    private static void Ensure(
        Microsoft.Win32.SafeHandles.SafeFileHandle handle, long fileLength, long position, int count, ref byte[] buffer, ref long windowStart, ref int windowLength)
    {
        if (position >= windowStart && position + count <= windowStart + windowLength)
        {
            return;
        }

        if (count > buffer.Length)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = ArrayPool<byte>.Shared.Rent(count);
        }

        windowStart = position;
        var toRead = (int)Math.Min(buffer.Length, fileLength - position);
        var read = 0;
        while (read < toRead)
        {
            var n = RandomAccess.Read(handle, buffer.AsSpan(read, toRead - read), position + read);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        windowLength = read;
    }
}
