using System.Runtime.CompilerServices;
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

    /// <param name="previousSequence">Sequence of the last frame before this file (0 if none); updated.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot on recovery: skip tier-0 code
    public static WalFileReplay Replay(string path, bool isNewestFile, ulong skipThroughSequence, ref ulong previousSequence, IWalFrameSink sink)
    {
        var length = new FileInfo(path).Length;
        if (length < WriteAheadLog.HeaderBytes)
        {
            if (!isNewestFile)
            {
                throw new PyramidCorruptionException(path, 0, $"log file is {length} bytes, shorter than its header");
            }

            return new WalFileReplay(0, length, 0, previousSequence);
        }

        if (length > int.MaxValue)
        {
            throw new IOException($"write-ahead log '{path}' is {length} bytes; files over 2 GiB are not supported");
        }

        var mapped = new MappedFileMemory(path, (int)length);
        try
        {
            var source = mapped.Memory;
            var file = source.Span;
            if (isNewestFile && file.IndexOfAnyExcept((byte)0) < 0)
            {
                return new WalFileReplay(0, 0, 0, previousSequence); // created, never written: nothing to drop
            }

            if (BinaryPrimitives.ReadUInt32LittleEndian(file) != WriteAheadLog.Magic)
            {
                throw new PyramidCorruptionException(path, 0, "bad write-ahead log magic");
            }

            var version = BinaryPrimitives.ReadUInt16LittleEndian(file[4..]);
            if (version > WriteAheadLog.FormatVersion)
            {
                throw new NotSupportedException(
                    $"'{path}' has write-ahead log format version {version}; this build reads up to {WriteAheadLog.FormatVersion}. Open the store with a newer Pyralog.");
            }

            var position = WriteAheadLog.HeaderBytes;
            long frames = 0;

            // Sequences continue from file to file, except across files already flushed and deleted or
            // recycled: a jump at the start of a file is fine while everything before it is flushed.
            var expectFrom = previousSequence <= skipThroughSequence ? 0 : previousSequence;
            while (position < file.Length)
            {
                if (!TryReadFrame(file, position, expectFrom, strictSequence: true, out var frameLength))
                {
                    if (IsCleanEnd(file, position, previousSequence))
                    {
                        return new WalFileReplay(position, 0, frames, previousSequence);
                    }

                    if (!isNewestFile)
                    {
                        throw new PyramidCorruptionException(path, position, "damaged frame in a write-ahead log file that was complete");
                    }

                    var later = FindLaterFrame(file, position, previousSequence);
                    if (later >= 0)
                    {
                        throw new PyramidCorruptionException(path, position,
                            $"damaged frame followed by a valid frame at byte {later}: acknowledged data was damaged, not torn");
                    }

                    return new WalFileReplay(position, file.Length - position, frames, previousSequence);
                }

                var frame = file.Slice(position, frameLength);
                var sequence = BinaryPrimitives.ReadUInt64LittleEndian(frame[8..]);
                if (sequence > skipThroughSequence)
                {
                    sink.ApplyFrame(sequence, BinaryPrimitives.ReadInt64LittleEndian(frame[16..]), BinaryPrimitives.ReadInt32LittleEndian(frame[24..]),
                        frame[WriteBatch.HeaderBytes..], source, position + WriteBatch.HeaderBytes);
                }

                previousSequence = sequence;
                expectFrom = sequence;
                position += frameLength;
                frames++;
            }

            return new WalFileReplay(position, 0, frames, previousSequence);
        }
        finally
        {
            // `file` is a raw span into the mapping: it does not keep the mapping alive, so the mapping must
            // stay reachable until the last read of it, or a collection may unmap it under our feet.
            GC.KeepAlive(mapped);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot on recovery: skip tier-0 code
    private static bool TryReadFrame(ReadOnlySpan<byte> file, int position, ulong previousSequence, bool strictSequence, out int frameLength)
    {
        frameLength = 0;
        if (file.Length - position < WriteBatch.HeaderBytes)
        {
            return false;
        }

        var payloadLength = BinaryPrimitives.ReadInt32LittleEndian(file[position..]);
        if (payloadLength < MinPayload || payloadLength > MaxPayload || (long)position + 8 + payloadLength > file.Length)
        {
            return false;
        }

        var sequence = BinaryPrimitives.ReadUInt64LittleEndian(file[(position + 8)..]);
        var sequenceOk = previousSequence == 0
            ? sequence > 0
            : strictSequence ? sequence == previousSequence + 1 : sequence > previousSequence && sequence - previousSequence < 1_000_000;
        if (!sequenceOk)
        {
            return false;
        }

        var frame = file.Slice(position, 8 + payloadLength);
        var crc = Crc32C.Append(Crc32C.Compute(frame[..4]), frame[8..]);
        if (crc != BinaryPrimitives.ReadUInt32LittleEndian(frame[4..]))
        {
            return false;
        }

        frameLength = 8 + payloadLength;
        return true;
    }

    /// <summary>The log ends cleanly where the preallocated zeros start or where a recycled file's stale
    /// frames (intact, but of a lower sequence than the last frame read) begin.</summary>
    private static bool IsCleanEnd(ReadOnlySpan<byte> file, int position, ulong previousSequence)
    {
        if (file[position..].IndexOfAnyExcept((byte)0) < 0)
        {
            return true;
        }

        return previousSequence > 0
            && TryReadFrame(file, position, 0, strictSequence: false, out _)
            && BinaryPrimitives.ReadUInt64LittleEndian(file[(position + 8)..]) <= previousSequence;
    }

    private static int FindLaterFrame(ReadOnlySpan<byte> file, int badPosition, ulong previousSequence)
    {
        for (var candidate = badPosition + 1; candidate + WriteBatch.HeaderBytes <= file.Length; candidate++)
        {
            if (TryReadFrame(file, candidate, previousSequence, strictSequence: false, out _))
            {
                return candidate;
            }
        }

        return -1;
    }
}
