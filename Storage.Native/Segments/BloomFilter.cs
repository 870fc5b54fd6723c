using System.Buffers.Binary;
using Pyralog.Storage.Native.Hashing;

namespace Pyralog.Storage.Native.Segments;

/// <summary>Bloom filter over a segment's keys (double hashing of two CRC32C seeds), queried in place in the mapped file.</summary>
internal static class BloomFilter
{
    public const int HeaderBytes = 8;

    public static ulong Hash(ReadOnlySpan<byte> key) =>
        ((ulong)Crc32C.Append(0x9E3779B9u, key) << 32) | Crc32C.Compute(key);

    /// <summary>Encoded size (without CRC) for <paramref name="keys"/> keys.</summary>
    public static int EncodedBytes(int keys, int bitsPerKey) => HeaderBytes + BitBytes(keys, bitsPerKey);

    public static void Build(ReadOnlySpan<ulong> hashes, int bitsPerKey, Span<byte> destination)
    {
        var hashCount = Math.Clamp((int)Math.Round(bitsPerKey * 0.69), 1, 30);
        var bitBytes = BitBytes(hashes.Length, bitsPerKey);
        var bitCount = (uint)(bitBytes * 8);
        destination[..(HeaderBytes + bitBytes)].Clear();
        destination[0] = (byte)hashCount;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], bitCount);
        var bits = destination.Slice(HeaderBytes, bitBytes);
        var multiplier = ModMultiplier(bitCount);
        foreach (var hash in hashes)
        {
            var h = (uint)hash;
            var delta = (uint)(hash >> 32) | 1;
            for (var i = 0; i < hashCount; i++)
            {
                var bit = Mod(h, bitCount, multiplier);
                bits[(int)(bit >> 3)] |= (byte)(1 << (int)(bit & 7));
                h += delta;
            }
        }
    }

    /// <summary>A filter of no bits (<see cref="HeaderBytes"/> long), which lets every key through: for a segment whose key
    /// range alone tells what it holds.</summary>
    public static void BuildPassingAll(Span<byte> destination) => destination[..HeaderBytes].Clear();

    /// <summary>The hash count and bit count of an encoded <paramref name="filter"/>; false when the bit count does not
    /// fit the filter's bytes.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> filter, out int hashCount, out uint bitCount)
    {
        hashCount = 0;
        bitCount = 0;
        if (filter.Length < HeaderBytes)
        {
            return false;
        }

        hashCount = filter[0];
        bitCount = BinaryPrimitives.ReadUInt32LittleEndian(filter[4..]);
        return bitCount <= (filter.Length - HeaderBytes) * 8L;
    }

    /// <summary>Whether <paramref name="bits"/> lets <paramref name="hash"/> through; <paramref name="hashCount"/> and
    /// <paramref name="bitCount"/> come from the filter's verified header (see <see cref="TryReadHeader"/>), not from
    /// the mapping, so a header damaged since cannot index past the bits; <paramref name="multiplier"/> is
    /// <see cref="ModMultiplier"/> of <paramref name="bitCount"/>, worked out once per filter rather than per lookup.</summary>
    public static bool MayContain(ReadOnlySpan<byte> bits, int hashCount, uint bitCount, ulong multiplier, ulong hash)
    {
        if (bitCount == 0)
        {
            return true;
        }

        var h = (uint)hash;
        var delta = (uint)(hash >> 32) | 1;
        for (var i = 0; i < hashCount; i++)
        {
            var bit = Mod(h, bitCount, multiplier);
            if ((bits[(int)(bit >> 3)] & (1 << (int)(bit & 7))) == 0)
            {
                return false;
            }

            h += delta;
        }

        return true;
    }

    /// <summary>The multiplier for <see cref="Mod"/> by <paramref name="divisor"/>: ceil(2^64 / divisor).</summary>
    internal static ulong ModMultiplier(uint divisor) => (ulong.MaxValue / divisor) + 1;

    /// <summary>
    /// <paramref name="value"/> % <paramref name="divisor"/> by two multiplications instead of a division (Lemire, Kaser
    /// and Kurz, "Faster remainder by direct computation", 2019; exact for every 32-bit value and divisor). A filter
    /// probes seven bits per key, and the divisions were most of a flush's bloom filter build, on the flush's CPU time.
    /// The bits are the ones <c>%</c> picks, so filters written before read the same.
    /// </summary>
    internal static uint Mod(uint value, uint divisor, ulong multiplier) => (uint)Math.BigMul(multiplier * value, divisor, out _);

    private static int BitBytes(int keys, int bitsPerKey) => (int)Math.Max(8, (((long)keys * bitsPerKey) + 7) / 8);
}
