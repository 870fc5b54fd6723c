namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>When an append is acknowledged relative to the replicas' disks.</summary>
public enum LogDurability : byte
{
    /// <summary>Once a majority of replicas fdatasync'ed the batch (one fsync per silo carries every replica's batch). The default.</summary>
    Fsync = 0,

    /// <summary>
    /// Once a majority of replicas wrote it to their OS page caches (how Kafka and JetStream acknowledge by default): a
    /// process crash loses nothing acknowledged, a simultaneous power loss of a majority may.
    /// </summary>
    OsCache = 1,
}
