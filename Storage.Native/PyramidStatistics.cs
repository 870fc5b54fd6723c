namespace Pyralog.Storage.Native;

/// <summary>A point-in-time view of the engine's shape and work since it was opened.</summary>
public sealed record PyramidStatistics
{
    public required IReadOnlyList<LevelStatistics> Levels { get; init; }

    public required long MemtableBytes { get; init; }

    public required int ImmutableMemtables { get; init; }

    public required long BlockCacheBytes { get; init; }

    public required long BlockCacheHits { get; init; }

    public required long BlockCacheMisses { get; init; }

    /// <summary>Segment mappings held now (see <see cref="PyramidOptions.MaxMappedSegments"/>), those only open readers
    /// still pin included.</summary>
    public required int MappedSegments { get; init; }

    /// <summary>The most segment mappings held at once since the store opened.</summary>
    public required int PeakMappedSegments { get; init; }

    /// <summary>The limit <see cref="MappedSegments"/> is held to.</summary>
    public required int MappedSegmentLimit { get; init; }

    /// <summary>Times a read mapped a segment again after the limit had unmapped it.</summary>
    public required long SegmentRemaps { get; init; }

    /// <summary>Payload, key and value bytes callers wrote since open.</summary>
    public required long UserBytesWritten { get; init; }

    public required long WalBytesWritten { get; init; }

    public required long FlushBytesWritten { get; init; }

    public required long CompactionBytesWritten { get; init; }

    public required long Flushes { get; init; }

    /// <summary>CPU time the flushes took on the threads that ran them (Linux; zero elsewhere), their segment syncs
    /// included where the flush ran them itself.</summary>
    public required TimeSpan FlushCpuTime { get; init; }

    public required long Compactions { get; init; }

    /// <summary>Bytes written to disk (WAL + flush + compaction) per user byte.</summary>
    public double WriteAmplification =>
        UserBytesWritten == 0 ? 0 : (double)(WalBytesWritten + FlushBytesWritten + CompactionBytesWritten) / UserBytesWritten;

    /// <summary>fdatasync calls on the WAL since open (commit groups in batch mode, timer syncs in interval mode).</summary>
    public required long WalSyncs { get; init; }

    /// <summary>Commit groups written since open: each is one WAL write, whatever logs its batches touch.</summary>
    public required long CommitGroups { get; init; }

    /// <summary>Logs the store holds.</summary>
    public required int Logs { get; init; }
}
