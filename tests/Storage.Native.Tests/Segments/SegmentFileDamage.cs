using System.Buffers.Binary;

namespace Pyralog.Storage.Native.Tests.Segments;

/// <summary>Finds a segment file's regions from its footer and overwrites bytes in place, as damage on disk would
/// (through the page cache, so a live mapping of the file sees it).</summary>
internal static class SegmentFileDamage
{
    private const int FooterBytes = 48;

    /// <summary>Where the footer says the index starts (<c>u64 index pos</c> at footer byte 12).</summary>
    public static long IndexPosition(string path) => FooterInt64(path, 12);

    /// <summary>Position of index entry <paramref name="block"/> (its <c>u64 block pos</c>) in the file.</summary>
    public static long IndexEntryPosition(string path, int block)
    {
        var index = IndexPosition(path);
        return index + BinaryPrimitives.ReadInt32LittleEndian(Read(path, index + 4 + (4 * block), 4));
    }

    /// <summary>The first key index entry <paramref name="block"/> names.</summary>
    public static byte[] IndexFirstKey(string path, int block)
    {
        var entry = IndexEntryPosition(path, block);
        var keyLength = BinaryPrimitives.ReadInt32LittleEndian(Read(path, entry + 12, 4));
        return Read(path, entry + 16, keyLength);
    }

    /// <summary>Clears every bit of the bloom filter (its 8-byte header and CRC stay): each key then looks absent.</summary>
    public static void ClearBloomBits(string path)
    {
        var bloom = FooterInt64(path, 24);
        var bloomBytes = BinaryPrimitives.ReadInt32LittleEndian(Read(path, new FileInfo(path).Length - FooterBytes + 32, 4));
        Overwrite(path, bloom + 8, new byte[bloomBytes - 8 - 4]);
    }

    public static byte[] Read(string path, long position, int count)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var bytes = new byte[count];
        file.Position = position;
        file.ReadExactly(bytes);
        return bytes;
    }

    public static void Overwrite(string path, long position, ReadOnlySpan<byte> bytes)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        file.Position = position;
        file.Write(bytes);
    }

    private static long FooterInt64(string path, int field) =>
        BinaryPrimitives.ReadInt64LittleEndian(Read(path, new FileInfo(path).Length - FooterBytes + field, 8));
}
