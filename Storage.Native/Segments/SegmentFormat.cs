using System.Buffers.Binary;

namespace Pyralog.Storage.Native.Segments;

/// <summary>
/// On-disk layout of an immutable segment (all integers little-endian):
/// <code>
/// header  [u32 magic "PYRS"][u16 version][u16 0]
/// blocks  ([entry]* [u32 CRC32C])*          entry = [u8 kind][varint key len][varint value len][key][value]
/// index   [u32 n][u32 entry pos × n][(u64 block pos, u32 block len, u32 key len, first key) × n][u32 CRC32C]
/// bloom   [u8 hashes][3 × 0][u32 bit count][bits][u32 CRC32C]  bit count 0: lets every key through (one log's
///         records at consecutive offsets: the key range tells what the segment holds)
/// meta    [u64 entries][u64 tombstones][u64 log records][u32 len][min key][u32 len][max key][u32 CRC32C]
/// footer  [u64 meta pos][u32 len][u64 index pos][u32 len][u64 bloom pos][u32 len][u16 version][u16 0][u32 CRC32C][u32 magic]
/// </code>
/// Every byte after the header is covered by a CRC, so any flipped bit is caught before its data is
/// used. A file is written completely and fsynced before the manifest names it; a file the manifest
/// does not name is an unfinished flush or compaction and is deleted at open.
/// </summary>
internal static class SegmentFormat
{
    public const uint Magic = 0x53525950; // "PYRS"
    public const ushort Version = 1;
    public const int HeaderBytes = 8;
    public const int FooterBytes = 48;
    public const byte KindPut = 1;
    public const byte KindDelete = 2;

    public static string FileName(long fileNumber) => $"seg-{fileNumber:D10}.pyr";

    public static bool TryParseFileNumber(string fileName, out long fileNumber)
    {
        fileNumber = 0;
        return fileName.StartsWith("seg-", StringComparison.Ordinal) && fileName.EndsWith(".pyr", StringComparison.Ordinal)
            && long.TryParse(fileName.AsSpan(4, fileName.Length - 8), out fileNumber);
    }

    public static int WriteVarint(Span<byte> destination, uint value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>How many bytes <see cref="WriteVarint"/> writes for <paramref name="value"/>.</summary>
    public static int VarintBytes(uint value) => value < 1u << 7 ? 1 : value < 1u << 14 ? 2 : value < 1u << 21 ? 3 : value < 1u << 28 ? 4 : 5;

    /// <summary>Reads a varint; returns bytes consumed or 0 when malformed.</summary>
    public static int ReadVarint(ReadOnlySpan<byte> source, out uint value)
    {
        value = 0;
        for (var i = 0; i < 5 && i < source.Length; i++)
        {
            var b = source[i];
            value |= (uint)(b & 0x7F) << (7 * i);
            if (b < 0x80)
            {
                return i + 1;
            }
        }

        return 0;
    }

    /// <summary>Decodes the entry at the start of <paramref name="block"/>; returns its length or 0 when malformed.</summary>
    public static int ReadEntry(ReadOnlySpan<byte> block, out byte kind, out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        key = default;
        value = default;
        kind = 0;
        if (block.IsEmpty)
        {
            return 0;
        }

        kind = block[0];
        var a = ReadVarint(block[1..], out var keyLength);
        if (a == 0)
        {
            return 0;
        }

        var b = ReadVarint(block[(1 + a)..], out var valueLength);
        var start = 1 + a + b;
        if (b == 0 || (long)start + keyLength + valueLength > block.Length || (kind != KindPut && kind != KindDelete))
        {
            return 0;
        }

        key = block.Slice(start, (int)keyLength);
        value = block.Slice(start + (int)keyLength, (int)valueLength);
        return start + (int)keyLength + (int)valueLength;
    }

    public static uint ReadCrc(ReadOnlySpan<byte> source) => BinaryPrimitives.ReadUInt32LittleEndian(source);
}
