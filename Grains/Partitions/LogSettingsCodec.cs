using System.Buffers.Binary;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Partitions;

/// <summary>A log's settings as a replica keeps them beside its Raft state: durability byte, record limit.</summary>
internal static class LogSettingsCodec
{
    public static byte[] Encode(LogSettings settings)
    {
        var buffer = new byte[5];
        buffer[0] = (byte)settings.Durability;
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(1), settings.MaxRecordBytes);
        return buffer;
    }

    public static LogSettings Decode(byte[] data) => data.Length == 5
        ? new LogSettings { Durability = (LogDurability)data[0], MaxRecordBytes = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(1)) }
        : throw new InvalidDataException($"a replica's log settings record has {data.Length} bytes, not 5");
}
