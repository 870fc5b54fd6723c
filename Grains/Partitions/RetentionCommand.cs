using System.Buffers.Binary;

namespace Pyralog.Grains.Partitions;

/// <summary>
/// The data of a Raft entry that moves a partition's first retained offset: a kind byte (2, never a record batch's 1)
/// and the offset, little-endian. The leader proposes it (PartitionReplicaGrain decides when, from its clock and the
/// partition's size); every replica applies it identically (PartitionState), since nothing in it depends on a clock.
/// </summary>
internal static class RetentionCommand
{
    public const byte Kind = 2;

    private const int EncodedBytes = 9;

    public static byte[] Encode(ulong retainFrom)
    {
        var buffer = new byte[EncodedBytes];
        buffer[0] = Kind;
        BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(1), retainFrom);
        return buffer;
    }

    /// <summary>True when <paramref name="data"/> is a retention command; <paramref name="retainFrom"/> is its offset.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, out ulong retainFrom)
    {
        if (data.Length == EncodedBytes && data[0] == Kind)
        {
            retainFrom = BinaryPrimitives.ReadUInt64LittleEndian(data[1..]);
            return true;
        }

        retainFrom = 0;
        return false;
    }
}
