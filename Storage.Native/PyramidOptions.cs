using Pyralog.Storage.Native.Devices;

namespace Pyralog.Storage.Native;

/// <summary>Tuning of one <see cref="PyramidStore"/>. The memory bound is
/// <c>MemtableBytes × (1 + MaxImmutableMemtables) + BlockCacheBytes</c> plus per-segment metadata.</summary>
public sealed class PyramidOptions
{
    public DurabilityMode Durability { get; init; } = DurabilityMode.PerBatch;

    /// <summary>Sync period for <see cref="DurabilityMode.Interval"/>.</summary>
    public TimeSpan SyncInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Bytes of records an active memtable holds before it is swapped out and flushed.</summary>
    public long MemtableBytes { get; init; } = 64L << 20;

    /// <summary>Swapped memtables waiting for flush; writers wait when this many are pending (back-pressure).</summary>
    public int MaxImmutableMemtables { get; init; } = 2;

    public long BlockCacheBytes { get; init; } = 32L << 20;

    /// <summary>Target size of a segment data block.</summary>
    public int BlockBytes { get; init; } = 4 << 10;

    /// <summary>Compaction output is cut into segments of about this size.</summary>
    public long TargetSegmentBytes { get; init; } = 64L << 20;

    /// <summary>Number of L0 segments that triggers an L0 → L1 compaction.</summary>
    public int L0CompactionTrigger { get; init; } = 4;

    /// <summary>Size of L1; each deeper level is <see cref="LevelSizeMultiplier"/> times larger.</summary>
    public long L1TargetBytes { get; init; } = 256L << 20;

    public int LevelSizeMultiplier { get; init; } = 10;

    /// <summary>Write rate of background compaction so foreground appends keep the disk; 0 = unlimited.</summary>
    public long CompactionBytesPerSecond { get; init; } = 128L << 20;

    /// <summary>Bloom filter bits per key (10 ≈ 1% false positives).</summary>
    public int BloomBitsPerKey { get; init; } = 10;

    /// <summary>How often the background worker applies retention (set per log with <see cref="PyramidStore.SetRetention"/>).</summary>
    public TimeSpan RetentionCheckInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Granularity of retention: a time/size marker is kept every this many appended bytes ...</summary>
    public long RetentionMarkerBytes { get; init; } = 1L << 20;

    /// <summary>... or at least this often.</summary>
    public TimeSpan RetentionMarkerInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Clock for retention by age and record timestamps; tests inject a fake one.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The file system the store's files live on; tests stand in one that simulates power loss.</summary>
    internal IStorageDevice Device { get; init; } = FileSystemDevice.Instance;

    /// <summary>Runs background flush and compaction; false leaves them to explicit FlushAsync/CompactAsync calls.</summary>
    public bool BackgroundWork { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        Require(MemtableBytes is >= 64 << 10 and <= 1L << 30, nameof(MemtableBytes), "must be between 64 KiB and 1 GiB (a WAL file is replayed through one mapping)");
        Require(MaxImmutableMemtables >= 1, nameof(MaxImmutableMemtables), "must be at least 1");
        Require(BlockCacheBytes >= 0, nameof(BlockCacheBytes), "must not be negative");
        Require(BlockBytes is >= 512 and <= 1 << 20, nameof(BlockBytes), "must be between 512 B and 1 MiB");
        Require(TargetSegmentBytes >= 64 << 10, nameof(TargetSegmentBytes), "must be at least 64 KiB");
        Require(L0CompactionTrigger >= 1, nameof(L0CompactionTrigger), "must be at least 1");
        Require(L1TargetBytes >= 64 << 10, nameof(L1TargetBytes), "must be at least 64 KiB");
        Require(LevelSizeMultiplier >= 2, nameof(LevelSizeMultiplier), "must be at least 2");
        Require(CompactionBytesPerSecond >= 0, nameof(CompactionBytesPerSecond), "must not be negative");
        Require(BloomBitsPerKey is >= 1 and <= 32, nameof(BloomBitsPerKey), "must be between 1 and 32");
        Require(SyncInterval > TimeSpan.Zero, nameof(SyncInterval), "must be positive");
        Require(RetentionMarkerBytes >= 4096, nameof(RetentionMarkerBytes), "must be at least 4 KiB");
        Require(RetentionMarkerInterval > TimeSpan.Zero, nameof(RetentionMarkerInterval), "must be positive");
        Require(RetentionCheckInterval > TimeSpan.Zero, nameof(RetentionCheckInterval), "must be positive");
    }

    private static void Require(bool condition, string name, string rule)
    {
        if (!condition)
        {
            throw new ArgumentException($"PyramidOptions.{name} {rule}.", name);
        }
    }
}
