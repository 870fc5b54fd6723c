using System.Buffers.Binary;

namespace Pyralog.Storage.Native.Log;

/// <summary>
/// The log space's bounds and retention bookkeeping after a given write. Records outside
/// [<see cref="First"/>, <see cref="Next"/>) are invisible whatever the segments still hold, which is
/// how truncations take effect at once and are cleaned up lazily by compaction.
/// </summary>
internal struct LogSpaceState
{
    public const int EncodedBytes = 56;

    /// <summary>Lowest readable offset (everything below was truncated or retired).</summary>
    public ulong First;

    /// <summary>One past the highest record; the next append must use it.</summary>
    public ulong Next;

    /// <summary>Payload bytes ever appended up to <see cref="Next"/> (approximate after a truncate-suffix).</summary>
    public long Cumulative;

    /// <summary><see cref="Cumulative"/> at <see cref="First"/>, to the marker granularity.</summary>
    public long FirstCumulative;

    public long LastMarkerCumulative;

    /// <summary>Time of the newest retention marker; <see cref="long.MinValue"/> forces one on the next append.</summary>
    public long LastMarkerTimeMs;

    public long LastAppendTimeMs;

    public static LogSpaceState Empty => new() { LastMarkerTimeMs = long.MinValue, LastAppendTimeMs = long.MinValue };

    public readonly bool IsEmpty => First == Next;

    public readonly void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, First);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], Next);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], Cumulative);
        BinaryPrimitives.WriteInt64LittleEndian(destination[24..], FirstCumulative);
        BinaryPrimitives.WriteInt64LittleEndian(destination[32..], LastMarkerCumulative);
        BinaryPrimitives.WriteInt64LittleEndian(destination[40..], LastMarkerTimeMs);
        BinaryPrimitives.WriteInt64LittleEndian(destination[48..], LastAppendTimeMs);
    }

    public static LogSpaceState Read(ReadOnlySpan<byte> source) => new()
    {
        First = BinaryPrimitives.ReadUInt64LittleEndian(source),
        Next = BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
        Cumulative = BinaryPrimitives.ReadInt64LittleEndian(source[16..]),
        FirstCumulative = BinaryPrimitives.ReadInt64LittleEndian(source[24..]),
        LastMarkerCumulative = BinaryPrimitives.ReadInt64LittleEndian(source[32..]),
        LastMarkerTimeMs = BinaryPrimitives.ReadInt64LittleEndian(source[40..]),
        LastAppendTimeMs = BinaryPrimitives.ReadInt64LittleEndian(source[48..]),
    };
}
