namespace Pyralog.Storage.Native;

/// <summary>When a write is acknowledged relative to the disk.</summary>
public enum DurabilityMode
{
    /// <summary>Acknowledged after fdatasync of the WAL; one fsync is shared by every write in a commit group.</summary>
    PerBatch,

    /// <summary>Acknowledged once written to the OS; a timer syncs every <see cref="PyramidOptions.SyncInterval"/>,
    /// so a power loss loses at most that window while a process crash loses nothing.</summary>
    Interval,

    /// <summary>Acknowledged once written to the OS and never synced on the write path (benchmarks, rebuildable data).</summary>
    None,
}
