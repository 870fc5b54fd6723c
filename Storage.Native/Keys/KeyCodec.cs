using System.Buffers.Binary;

namespace Pyralog.Storage.Native.Keys;

/// <summary>
/// Both key spaces share one sorted key order, told apart by a leading byte: internal keys (retention
/// markers), then log records by big-endian (log id, offset) (so byte order is log order, then offset
/// order), then user KV keys. One order means one memtable, one WAL and one compaction serve every log
/// and the KV space, and a write batch spanning them is atomic for free.
/// </summary>
internal static class KeyCodec
{
    public const byte InternalPrefix = 0x00;
    public const byte LogPrefix = 0x01;
    public const byte KvPrefix = 0x02;
    public const byte MarkerTag = (byte)'M';
    public const int LogKeyLength = 17;    // prefix, log id, offset
    public const int MarkerKeyLength = 18; // prefix, tag, log id, offset

    public static void WriteLogKey(Span<byte> destination, ulong log, ulong offset)
    {
        destination[0] = LogPrefix;
        BinaryPrimitives.WriteUInt64BigEndian(destination[1..], log);
        BinaryPrimitives.WriteUInt64BigEndian(destination[9..], offset);
    }

    public static ulong ReadLogId(ReadOnlySpan<byte> logKey) => BinaryPrimitives.ReadUInt64BigEndian(logKey[1..]);

    public static ulong ReadLogOffset(ReadOnlySpan<byte> logKey) => BinaryPrimitives.ReadUInt64BigEndian(logKey[9..]);

    /// <summary>Whether two keys are in the same key space (internal, log or user key/value).</summary>
    public static bool SameSpace(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a.Length > 0 && b.Length > 0 && a[0] == b[0];

    public static bool IsLogKey(ReadOnlySpan<byte> key) => key.Length == LogKeyLength && key[0] == LogPrefix;

    public static void WriteMarkerKey(Span<byte> destination, ulong log, ulong offset)
    {
        destination[0] = InternalPrefix;
        destination[1] = MarkerTag;
        BinaryPrimitives.WriteUInt64BigEndian(destination[2..], log);
        BinaryPrimitives.WriteUInt64BigEndian(destination[10..], offset);
    }

    public static bool IsMarkerKey(ReadOnlySpan<byte> key) =>
        key.Length == MarkerKeyLength && key[0] == InternalPrefix && key[1] == MarkerTag;

    public static ulong ReadMarkerLogId(ReadOnlySpan<byte> markerKey) => BinaryPrimitives.ReadUInt64BigEndian(markerKey[2..]);

    public static ulong ReadMarkerOffset(ReadOnlySpan<byte> markerKey) => BinaryPrimitives.ReadUInt64BigEndian(markerKey[10..]);
}
