using System.Buffers.Binary;

namespace Pyralog.Storage.Native.CrashChild;

/// <summary>The deterministic data the crash child writes, shared with the test that verifies it.</summary>
public static class CrashWorkload
{
    public static readonly byte[] AckedKey = "acked-next"u8.ToArray();

    /// <summary>Every batch appends the same records to each of these logs (one store, one WAL, one commit for all).</summary>
    public static readonly ulong[] Logs = [1, 7, 1_000_003];

    public static PyramidOptions Options => new()
    {
        MemtableBytes = 256 << 10,
        BlockBytes = 2048,
        TargetSegmentBytes = 256 << 10,
        L1TargetBytes = 512 << 10,
        L0CompactionTrigger = 2,
        CompactionBytesPerSecond = 0,
    };

    /// <summary>For the write-failure test: the WAL grows past the file-size limit before any flush.</summary>
    public static PyramidOptions FillOptions => new() { MemtableBytes = 64L << 20 };

    /// <summary>Payload of log record <paramref name="offset"/>: its offset, a mixed word and a length that varies.</summary>
    public static byte[] Payload(ulong offset)
    {
        var bytes = new byte[16 + (int)(offset * 7 % 500)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, offset);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), offset * 0x9E3779B97F4A7C15UL);
        for (var i = 16; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(offset + (ulong)i);
        }

        return bytes;
    }
}
