using System.Runtime.CompilerServices;
using System.Buffers.Binary;
using Pyralog.Storage.Native.Devices;
using Pyralog.Storage.Native.Hashing;

namespace Pyralog.Storage.Native.Wal;

/// <summary>
/// Recovery side of <see cref="WriteAheadLog"/>. Keeps the longest prefix of valid frames of the file, each
/// naming the file it was written to and continuing the sequence, its CRC seeded with the file's salt (format 4; formats 2
/// and 3 have none and keep the plain CRC32C), so a recycled file's stale frames, sealed under an earlier salt, and
/// frame-like bytes of a user's payload are not frames of this file. After the last one:
/// <list type="bullet">
/// <item>zeros (preallocation), an intact frame of another file (a recycled file's stale frames), a frame header of
/// zeros (the end mark of a completed file, whatever stale bytes follow it), or, in the newest file, bytes that do not
/// begin this file's next frame (the rest of a stale frame) are the clean end: nothing was dropped;</item>
/// <item>in the newest file, a frame whose header names this file and the next sequence but that is cut short
/// or fails its CRC is a torn write (never acknowledged): it is dropped and reported;</item>
/// <item>in the newest file, damage followed by intact frames of this file that were all sealed before any sync
/// covered the damaged position (the synced length each carries does not reach past it) is a torn unsynced tail too:
/// a power loss in the middle of a write (or of several since the last sync) may leave any of its pages on the disk
/// and not others. It is dropped from the damage on and reported;</item>
/// <item>anything else in an older (completed) file, and any other intact frame of this file after the end, is
/// damage to acknowledged data: <see cref="PyramidCorruptionException"/> naming the file and position.</item>
/// </list>
/// </summary>
internal static class WalReader
{
    private const int MaxPayload = 1 << 30;
    private const int SequenceAt = 8;
    private const int FileNumberAt = 28;
    private const int SyncedLengthAt = 36;
    // Version 2 frames end their header at the file number: no synced length.
    private const int Version2HeaderBytes = WriteBatch.FrameHeaderBytes + 28;

    /// <summary>The largest WAL file replay reads: one mapping, indexed by <c>int</c>. The writer starts a new file
    /// before one would grow past it (<see cref="PyramidOptions.MaxWalFileBytes"/>).</summary>
    public const long MaxFileBytes = int.MaxValue;

    /// <param name="previousSequence">Sequence of the last frame before this file (0 if none); updated.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot on recovery: skip tier-0 code
    public static WalFileReplay Replay(IStorageDevice device, string path, bool isNewestFile, ulong skipThroughSequence, ref ulong previousSequence, IWalFrameSink sink, long maxBytes = MaxFileBytes)
    {
        if (!WriteAheadLog.TryParseFileNumber(System.IO.Path.GetFileName(path), out var fileNumber))
        {
            throw new ArgumentException($"'{path}' is not a write-ahead log file name", nameof(path));
        }

        var length = device.GetLength(path);
        if (length < WriteAheadLog.UnsaltedHeaderBytes)
        {
            if (!isNewestFile)
            {
                throw new PyramidCorruptionException(path, 0, $"log file is {length} bytes, shorter than its header");
            }

            return new WalFileReplay(0, length, 0, previousSequence);
        }

        if (length > maxBytes)
        {
            throw new IOException($"write-ahead log '{path}' is {length} bytes; files over {maxBytes} bytes are not supported");
        }

        var mapped = new MappedFileMemory(device, path, (int)length);
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
            CheckVersion(path, version);
            var headerBytes = version == 2 ? Version2HeaderBytes : WriteBatch.HeaderBytes;
            var position = version >= 4 ? WriteAheadLog.HeaderBytes : WriteAheadLog.UnsaltedHeaderBytes;
            if (file.Length < position)
            {
                return isNewestFile
                    ? new WalFileReplay(0, length, 0, previousSequence) // a header torn before its salt: no frame was written
                    : throw new PyramidCorruptionException(path, 0, $"log file is {length} bytes, shorter than its header");
            }

            // Versions 2 and 3 have no salt: their frames keep the plain CRC32C (seed 0), so stores they wrote still open.
            var crcSeed = WriteAheadLog.CrcSeedOf(file);
            long frames = 0;

            // Sequences continue from file to file, except across files already flushed and deleted or
            // recycled: a jump at the start of a file is fine while everything before it is flushed, as long as it lands
            // on the first unflushed sequence (checked below).
            var expectFrom = previousSequence <= skipThroughSequence ? 0 : previousSequence;
            while (position < file.Length)
            {
                if (!TryReadFrame(file, position, fileNumber, expectFrom, headerBytes, crcSeed, out var frameLength))
                {
                    var torn = ReadEnd(path, file, position, fileNumber, expectFrom, isNewestFile, headerBytes, crcSeed);
                    return new WalFileReplay(position, torn, frames, previousSequence);
                }

                var frame = file.Slice(position, frameLength);
                var sequence = BinaryPrimitives.ReadUInt64LittleEndian(frame[SequenceAt..]);
                if (expectFrom == 0 && sequence > skipThroughSequence + 1)
                {
                    // The first frame the manifest has not flushed must follow it: a jump here means the file that held
                    // the frames between (an older WAL) is missing or was zeroed, and replaying on would lose them silently.
                    throw new PyramidCorruptionException(path, position,
                        $"write-ahead log frames {skipThroughSequence + 1} to {sequence - 1} are missing: the manifest is flushed through sequence "
                        + $"{skipThroughSequence} and the first later frame is {sequence} (an earlier log file was lost or zeroed)");
                }

                if (sequence > skipThroughSequence)
                {
                    sink.ApplyFrame(sequence, BinaryPrimitives.ReadInt64LittleEndian(frame[16..]), BinaryPrimitives.ReadInt32LittleEndian(frame[24..]),
                        frame[headerBytes..], source, position + headerBytes);
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

    private static void CheckVersion(string path, ushort version)
    {
        if (version > WriteAheadLog.FormatVersion)
        {
            throw new NotSupportedException(
                $"'{path}' has write-ahead log format version {version}; this build reads up to {WriteAheadLog.FormatVersion}. Open the store with a newer Pyralog.");
        }

        if (version < 2)
        {
            throw new NotSupportedException(
                $"'{path}' has write-ahead log format version {version}, written by an earlier Pyralog; this build reads versions 2 to {WriteAheadLog.FormatVersion} "
                + "(frames name their WAL file) and does not convert older logs. Recreate the store.");
        }
    }

    /// <summary>Classifies what follows the last valid frame at <paramref name="position"/>; returns the bytes of the
    /// torn write dropped there (0 for a clean end) or throws for damage.</summary>
    private static long ReadEnd(
        string path, ReadOnlySpan<byte> file, int position, long fileNumber, ulong expectFrom, bool isNewestFile, int headerBytes, uint crcSeed)
    {
        var rest = file[position..];
        if (rest.IndexOfAnyExcept((byte)0) < 0)
        {
            return 0; // preallocated zeros
        }

        var later = FindFrameOf(file, position, fileNumber, headerBytes, crcSeed);
        if (later == position)
        {
            throw new PyramidCorruptionException(path, position, $"frame out of sequence (expected the one after sequence {expectFrom})");
        }

        if (later > position)
        {
            return isNewestFile && UnsyncedTailEnd(file, position, later, fileNumber, headerBytes, crcSeed) is { } end
                ? end - position
                : throw new PyramidCorruptionException(path, position,
                    $"damaged frame followed by a valid frame at byte {later}: acknowledged data was damaged, not torn");
        }

        if (IsIntactFrame(file, position, headerBytes, crcSeed, out _))
        {
            return 0; // a recycled file's stale frame: it names another file (unsalted files only: salted ones fail the CRC)
        }

        if (rest[..Math.Min(rest.Length, headerBytes)].IndexOfAnyExcept((byte)0) < 0)
        {
            return 0; // the end mark of a completed file (WriteAheadLog.Complete): a frame header of zeros
        }

        if (!isNewestFile)
        {
            throw new PyramidCorruptionException(path, position, "damaged frame in a write-ahead log file that was complete");
        }

        if (!BeginsNextFrame(rest, fileNumber, expectFrom, headerBytes))
        {
            return 0; // the rest of a recycled file's stale frame (or a torn header, which no one was told about)
        }

        var declared = rest.Length >= 4 ? 8L + BinaryPrimitives.ReadInt32LittleEndian(rest) : rest.Length;
        return Math.Min(declared, rest.Length);
    }

    /// <summary>
    /// Where the intact frames of this file from <paramref name="first"/> on end, if every one of them was sealed before a
    /// sync of the writer reached past <paramref name="damaged"/> (the synced length it carries is at most that): then no
    /// sync covered the damage before the power went, nothing from it on was acknowledged as synced, and the damage is
    /// pages of an unsynced write the disk did not keep. Null otherwise, and for version 2 frames (which do not say).
    /// </summary>
    private static int? UnsyncedTailEnd(ReadOnlySpan<byte> file, int damaged, int first, long fileNumber, int headerBytes, uint crcSeed)
    {
        if (headerBytes < WriteBatch.HeaderBytes)
        {
            return null;
        }

        var end = first;
        for (var at = first; at >= 0; at = FindFrameOf(file, end, fileNumber, headerBytes, crcSeed))
        {
            IsIntactFrame(file, at, headerBytes, crcSeed, out var frameLength);
            if (BinaryPrimitives.ReadInt64LittleEndian(file[(at + SyncedLengthAt)..]) > damaged)
            {
                return null;
            }

            end = at + frameLength;
        }

        return end;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot on recovery: skip tier-0 code
    private static bool TryReadFrame(ReadOnlySpan<byte> file, int position, long fileNumber, ulong previousSequence, int headerBytes, uint crcSeed, out int frameLength)
    {
        frameLength = 0;
        if (file.Length - position < headerBytes)
        {
            return false;
        }

        var sequence = BinaryPrimitives.ReadUInt64LittleEndian(file[(position + SequenceAt)..]);
        var sequenceOk = previousSequence == 0 ? sequence > 0 : sequence == previousSequence + 1;
        if (!sequenceOk || BinaryPrimitives.ReadInt64LittleEndian(file[(position + FileNumberAt)..]) != fileNumber)
        {
            return false;
        }

        return IsIntactFrame(file, position, headerBytes, crcSeed, out frameLength);
    }

    /// <summary>A frame with a plausible length and a matching CRC (seeded with the file's salt, see
    /// <see cref="WriteAheadLog.CrcSeedOf"/>), whatever file it names.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot on recovery (once per frame): skip tier-0 code
    private static bool IsIntactFrame(ReadOnlySpan<byte> file, int position, int headerBytes, uint crcSeed, out int frameLength)
    {
        frameLength = 0;
        if (file.Length - position < headerBytes)
        {
            return false;
        }

        var payloadLength = BinaryPrimitives.ReadInt32LittleEndian(file[position..]);
        if (payloadLength < headerBytes - WriteBatch.FrameHeaderBytes || payloadLength > MaxPayload || (long)position + 8 + payloadLength > file.Length)
        {
            return false;
        }

        var frame = file.Slice(position, 8 + payloadLength);
        var crc = Crc32C.Append(Crc32C.Append(crcSeed, frame[..4]), frame[8..]);
        if (crc != BinaryPrimitives.ReadUInt32LittleEndian(frame[4..]))
        {
            return false;
        }

        frameLength = 8 + payloadLength;
        return true;
    }

    /// <summary>Whether the header bytes written at the start of <paramref name="rest"/> are those of this file's
    /// next frame: a plausible length, the next sequence (when known) and this file's number. Why: only a write
    /// of this file's next frame can have put them there; in a recycled file anything else is stale. Where only
    /// zeros follow the header, its trailing zeros count as not yet written (a header torn in a preallocated
    /// region); where stale bytes follow, only a complete header counts.</summary>
    private static bool BeginsNextFrame(ReadOnlySpan<byte> rest, long fileNumber, ulong expectFrom, int headerBytes)
    {
        var header = rest[..Math.Min(rest.Length, headerBytes)];
        if (rest[header.Length..].IndexOfAnyExcept((byte)0) < 0)
        {
            header = header[..(header.LastIndexOfAnyExcept((byte)0) + 1)];
        }

        if (header.IsEmpty)
        {
            return false;
        }

        if (header.Length >= 4)
        {
            var payloadLength = BinaryPrimitives.ReadInt32LittleEndian(header);
            if (payloadLength < headerBytes - WriteBatch.FrameHeaderBytes || payloadLength > MaxPayload)
            {
                return false;
            }
        }

        Span<byte> expected = stackalloc byte[8];
        if (expectFrom != 0)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(expected, expectFrom + 1);
            if (!WrittenBytesMatch(header, SequenceAt, expected))
            {
                return false;
            }
        }

        BinaryPrimitives.WriteInt64LittleEndian(expected, fileNumber);
        return WrittenBytesMatch(header, FileNumberAt, expected);
    }

    private static bool WrittenBytesMatch(ReadOnlySpan<byte> header, int at, ReadOnlySpan<byte> expected)
    {
        var written = Math.Clamp(header.Length - at, 0, expected.Length);
        return written == 0 || header.Slice(at, written).SequenceEqual(expected[..written]);
    }

    /// <summary>Position of the first intact frame naming <paramref name="fileNumber"/> at or after
    /// <paramref name="from"/>, or -1. Searches for the file number itself (vectorized), then checks the frame
    /// around it, so scanning a recycled file's stale tail costs little.</summary>
    private static int FindFrameOf(ReadOnlySpan<byte> file, int from, long fileNumber, int headerBytes, uint crcSeed)
    {
        Span<byte> pattern = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(pattern, fileNumber);
        var searchFrom = from + FileNumberAt;
        while (searchFrom + pattern.Length <= file.Length)
        {
            var hit = file[searchFrom..].IndexOf(pattern);
            if (hit < 0)
            {
                return -1;
            }

            var candidate = searchFrom + hit - FileNumberAt;
            if (IsIntactFrame(file, candidate, headerBytes, crcSeed, out _))
            {
                return candidate;
            }

            searchFrom += hit + 1;
        }

        return -1;
    }
}
