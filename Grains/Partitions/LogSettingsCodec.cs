using System.Buffers.Binary;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Partitions;

/// <summary>
/// A log's settings as a replica keeps them beside its Raft state: durability byte, record limit (int32), retention
/// age in milliseconds and retention bytes (int64 each, -1 = none). Records of 5 bytes (written before retention
/// existed) decode with no retention.
/// </summary>
internal static class LogSettingsCodec
{
    private const int LegacyBytes = 5;
    /// <summary>The length of what <see cref="Encode"/> writes.</summary>
    public const int EncodedBytes = 21;

    public static byte[] Encode(LogSettings settings)
    {
        var buffer = new byte[EncodedBytes];
        buffer[0] = (byte)settings.Durability;
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(1), settings.MaxRecordBytes);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(5), settings.RetentionAge is { } age ? (long)age.TotalMilliseconds : -1);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(13), settings.RetentionBytes ?? -1);
        return buffer;
    }

    public static LogSettings Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length is not (LegacyBytes or EncodedBytes))
        {
            throw new InvalidDataException($"a replica's log settings record has {data.Length} bytes, not {EncodedBytes}");
        }

        var settings = new LogSettings { Durability = (LogDurability)data[0], MaxRecordBytes = BinaryPrimitives.ReadInt32LittleEndian(data[1..]) };
        if (data.Length == LegacyBytes)
        {
            return settings;
        }

        var ageMs = BinaryPrimitives.ReadInt64LittleEndian(data[5..]);
        var bytes = BinaryPrimitives.ReadInt64LittleEndian(data[13..]);
        return settings with
        {
            RetentionAge = ageMs < 0 ? null : TimeSpan.FromMilliseconds(ageMs),
            RetentionBytes = bytes < 0 ? null : bytes,
        };
    }
}
