using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Pyralog.Storage.Native.Hashing;

/// <summary>
/// CRC-32C (Castagnoli), the checksum guarding every WAL frame and segment block.
/// Uses the SSE4.2 / ARMv8 CRC instructions when present (8 bytes per instruction) and a
/// slicing-by-8 table otherwise, so the checksum never dominates the write or read path.
/// </summary>
public static class Crc32C
{
    private const uint Polynomial = 0x82F63B78u; // reflected Castagnoli polynomial
    private static readonly uint[] Table = BuildTable();

    // The hardware path checksums three lanes at once: long ones through WAL frames and whole files, short ones through
    // segment blocks (a few KiB); what is left after the last round of three goes through one chain.
    private const int LongLane = 8192;
    private const int ShortLane = 256;
    private static readonly Crc32CZeros LongLaneZeros = new(Polynomial, LongLane);
    private static readonly Crc32CZeros ShortLaneZeros = new(Polynomial, ShortLane);

    /// <summary>CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>Continues a CRC-32C computed over preceding bytes (pass 0 to start).</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        var state = ~crc;
        if (Sse42.X64.IsSupported)
        {
            state = HardwareX64(state, data);
        }
        else if (Crc32.Arm64.IsSupported)
        {
            state = HardwareArm64(state, data);
        }
        else
        {
            state = Software(state, data);
        }

        return ~state;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot on recovery: skip tier-0 code
    private static uint HardwareX64(uint state, ReadOnlySpan<byte> data)
    {
        ulong s = state;
        if (BitConverter.IsLittleEndian)
        {
            while (data.Length >= 3 * LongLane)
            {
                s = ThreeLanesX64(s, data, LongLane, LongLaneZeros);
                data = data[(3 * LongLane)..];
            }

            while (data.Length >= 3 * ShortLane)
            {
                s = ThreeLanesX64(s, data, ShortLane, ShortLaneZeros);
                data = data[(3 * ShortLane)..];
            }
        }

        var longs = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (var value in longs)
        {
            s = Sse42.X64.Crc32(s, BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value));
        }

        var result = (uint)s;
        foreach (var b in data[(longs.Length * 8)..])
        {
            result = Sse42.Crc32(result, b);
        }

        return result;
    }

    /// <summary>The raw register <paramref name="s"/> continued over the first 3 × <paramref name="lane"/> bytes of
    /// <paramref name="data"/> (which holds at least that many), as three chains joined at the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ThreeLanesX64(ulong s, ReadOnlySpan<byte> data, int lane, Crc32CZeros zeros)
    {
        ref var start = ref MemoryMarshal.GetReference(data);
        ulong second = 0, third = 0;
        for (var at = 0; at < lane; at += 8)
        {
            s = Sse42.X64.Crc32(s, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, at)));
            second = Sse42.X64.Crc32(second, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, lane + at)));
            third = Sse42.X64.Crc32(third, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, (2 * lane) + at)));
        }

        var joined = zeros.Append((uint)s) ^ (uint)second;
        return zeros.Append(joined) ^ (uint)third;
    }

    private static uint HardwareArm64(uint state, ReadOnlySpan<byte> data)
    {
        var longs = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (var value in longs)
        {
            state = Crc32.Arm64.ComputeCrc32C(state, value);
        }

        foreach (var b in data[(longs.Length * 8)..])
        {
            state = Crc32.ComputeCrc32C(state, b);
        }

        return state;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot on recovery: skip tier-0 code
    internal static uint Software(uint state, ReadOnlySpan<byte> data)
    {
        ref var table = ref MemoryMarshal.GetArrayDataReference(Table);
        while (data.Length >= 8)
        {
            var one = BinaryPrimitives.ReadUInt32LittleEndian(data) ^ state;
            var two = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
            state = At(ref table, 7, one & 0xFF) ^ At(ref table, 6, (one >> 8) & 0xFF)
                  ^ At(ref table, 5, (one >> 16) & 0xFF) ^ At(ref table, 4, one >> 24)
                  ^ At(ref table, 3, two & 0xFF) ^ At(ref table, 2, (two >> 8) & 0xFF)
                  ^ At(ref table, 1, (two >> 16) & 0xFF) ^ At(ref table, 0, two >> 24);
            data = data[8..];
        }

        foreach (var b in data)
        {
            state = At(ref table, 0, (state ^ b) & 0xFF) ^ (state >> 8);
        }

        return state;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint At(ref uint table, int slice, uint index) => Unsafe.Add(ref table, (slice * 256) + (int)index);

    private static uint[] BuildTable()
    {
        var table = new uint[8 * 256];
        for (uint i = 0; i < 256; i++)
        {
            var c = i;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? (c >> 1) ^ Polynomial : c >> 1;
            }

            table[i] = c;
        }

        for (var slice = 1; slice < 8; slice++)
        {
            for (var i = 0; i < 256; i++)
            {
                var prev = table[((slice - 1) * 256) + i];
                table[(slice * 256) + i] = (prev >> 8) ^ table[prev & 0xFF];
            }
        }

        return table;
    }
}
