using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// The string key of a Raft replica grain: <c>"{log}/{partition}/{replica}"</c>, where <paramref name="Replica"/> is
/// the replica's slot in its group (0 ≤ slot &lt; <see cref="MaxReplicationFactor"/>). The metadata group is log 0,
/// partition 0.
/// </summary>
public readonly record struct ReplicaGrainKey(ulong Log, int Partition, int Replica)
{
    /// <summary>The largest number of replicas in one group.</summary>
    public const int MaxReplicationFactor = 7;

    /// <summary>The largest number of partitions of one log.</summary>
    public const int MaxPartitions = 65_536;

    /// <summary>The largest log id (40 bits: a replica's store log packs log, partition and slot into 64 bits).</summary>
    public const ulong MaxLog = (1UL << 40) - 1;

    /// <summary>The grain key of replica <paramref name="replica"/> of <paramref name="partition"/> of log <paramref name="log"/>.</summary>
    public static string Of(ulong log, int partition, int replica) => Format(new ReplicaGrainKey(log, partition, replica));

    /// <summary>Parses a key written by <see cref="Format"/>; throws <see cref="FormatException"/> otherwise.</summary>
    public static ReplicaGrainKey Parse(string key) =>
        TryParse(key, out var parsed)
            ? parsed
            : throw new FormatException($"'{key}' is not a replica key \"{{log}}/{{partition}}/{{replica}}\" with log <= {MaxLog}, partition < {MaxPartitions}, replica < {MaxReplicationFactor}.");

    /// <summary>
    /// Parses exactly three '/'-separated decimal numbers, with no signs or spaces, so each key has one spelling and
    /// two spellings never name the same replica through different grains.
    /// </summary>
    public static bool TryParse([NotNullWhen(true)] string? key, out ReplicaGrainKey parsed)
    {
        parsed = default;
        if (key is null)
        {
            return false;
        }

        var text = key.AsSpan();
        Span<Range> parts = stackalloc Range[4];
        if (text.Split(parts, '/') != 3
            || !ulong.TryParse(text[parts[0]], NumberStyles.None, CultureInfo.InvariantCulture, out var log)
            || !int.TryParse(text[parts[1]], NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
            || !int.TryParse(text[parts[2]], NumberStyles.None, CultureInfo.InvariantCulture, out var replica)
            || replica >= MaxReplicationFactor || partition >= MaxPartitions || log > MaxLog)
        {
            return false;
        }

        parsed = new ReplicaGrainKey(log, partition, replica);
        return parsed.ToString() == key;
    }

    /// <summary>The grain key of <paramref name="key"/>; only keys <see cref="TryParse"/> accepts can be formatted.</summary>
    public static string Format(ReplicaGrainKey key)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(key.Partition, nameof(key));
        ArgumentOutOfRangeException.ThrowIfNegative(key.Replica, nameof(key));
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(key.Replica, MaxReplicationFactor, nameof(key));
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(key.Partition, MaxPartitions, nameof(key));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(key.Log, MaxLog, nameof(key));
        return key.ToString();
    }

    /// <summary>The key's text, even for an invalid key (so it can be logged); use <see cref="Format"/> to name a grain.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Log}/{Partition}/{Replica}");
}
