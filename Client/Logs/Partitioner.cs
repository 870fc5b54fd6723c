using System.IO.Hashing;

namespace Pyralog.Client.Logs;

/// <summary>
/// Chooses a record's partition from its key. The mapping is part of the wire contract and stable across versions:
/// XxHash64 (seed 0) of the key bytes, taken modulo the partition count as an unsigned number. Records with one key
/// land in one partition (and keep their order) as long as the log's partition count stays the same.
/// </summary>
public static class Partitioner
{
    /// <summary>The partition (0 ≤ p &lt; <paramref name="partitions"/>) of <paramref name="key"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="partitions"/> is not positive.</exception>
    public static int ForKey(ReadOnlySpan<byte> key, int partitions)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(partitions);
        return (int)(XxHash64.HashToUInt64(key) % (ulong)partitions);
    }
}
