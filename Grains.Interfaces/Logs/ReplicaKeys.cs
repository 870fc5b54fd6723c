using System.Globalization;

namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// Replica grain keys: <c>"{log}/{partition}/{replica}"</c> with the log's id, the partition number and the replica slot
/// (0 .. RF-1). The metadata group's replicas use log 0, partition 0.
/// </summary>
public static class ReplicaKeys
{
    /// <summary>Largest replication factor.</summary>
    public const int MaxReplicationFactor = 7;

    /// <summary>Largest partition count of one log.</summary>
    public const int MaxPartitions = 65_536;

    public static string Format(ulong log, int partition, int replica) =>
        string.Create(CultureInfo.InvariantCulture, $"{log}/{partition}/{replica}");

    public static bool TryParse(string key, out ulong log, out int partition, out int replica)
    {
        log = 0;
        partition = 0;
        replica = 0;
        var parts = key.Split('/');
        return parts.Length == 3
            && ulong.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out log)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out partition)
            && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out replica)
            && partition < MaxPartitions && replica < MaxReplicationFactor;
    }
}
