namespace Pyralog.Storage.Native.Hashing;

/// <summary>
/// Moves a raw CRC-32C register past a fixed run of zero bytes in four table lookups. This is what lets the hardware
/// path run three independent CRC chains over three lanes of a buffer and join them: the register of A‖B is A's
/// register moved past |B| zero bytes, xor B's register started from zero (the CRC is linear). The CRC instruction
/// takes three cycles but a new one can start every cycle, so three chains checksum about three times as fast as one.
/// The move past n zero bytes is a 32 × 32 matrix over GF(2), found by squaring the matrix for one zero bit
/// (the method of zlib's crc32_combine), and tabulated per byte of the register.
/// </summary>
internal sealed class Crc32CZeros
{
    // Invariant: entry (256 × i) + b is the matrix applied to byte b in byte position i of a register.
    private readonly uint[] _table = new uint[4 * 256];

    /// <param name="polynomial">The reflected polynomial.</param>
    /// <param name="bytes">The run of zero bytes; a power of two.</param>
    public Crc32CZeros(uint polynomial, int bytes)
    {
        if (bytes < 1 || (bytes & (bytes - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "the run of zero bytes must be a power of two");
        }

        // One zero bit shifts the register right by one, folding the polynomial in when a one falls out of bit 0.
        var matrix = new uint[32];
        matrix[0] = polynomial;
        for (var i = 1; i < 32; i++)
        {
            matrix[i] = 1u << (i - 1);
        }

        matrix = Square(Square(Square(matrix))); // one zero byte
        for (var n = bytes; n > 1; n >>= 1)
        {
            matrix = Square(matrix);
        }

        for (uint b = 0; b < 256; b++)
        {
            for (var i = 0; i < 4; i++)
            {
                _table[(256 * i) + (int)b] = Times(matrix, b << (8 * i));
            }
        }
    }

    /// <summary>The raw <paramref name="register"/> after the run of zero bytes.</summary>
    public uint Append(uint register) =>
        _table[register & 0xFF] ^ _table[256 + ((register >> 8) & 0xFF)]
        ^ _table[512 + ((register >> 16) & 0xFF)] ^ _table[768 + (register >> 24)];

    private static uint Times(uint[] matrix, uint vector)
    {
        uint sum = 0;
        for (var i = 0; vector != 0; i++, vector >>= 1)
        {
            if ((vector & 1) != 0)
            {
                sum ^= matrix[i];
            }
        }

        return sum;
    }

    private static uint[] Square(uint[] matrix)
    {
        var squared = new uint[32];
        for (var i = 0; i < 32; i++)
        {
            squared[i] = Times(matrix, matrix[i]);
        }

        return squared;
    }
}
