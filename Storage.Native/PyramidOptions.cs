using System.ComponentModel.DataAnnotations;
using Pyralog.Storage.Native.Devices;

namespace Pyralog.Storage.Native;

/// <summary>Tuning of one <see cref="PyramidStore"/>. The memory bound is
/// <c>MemtableBytes × (1 + MaxImmutableMemtables) + BlockCacheBytes</c> plus per-segment metadata.</summary>
public sealed class PyramidOptions
{
    public DurabilityMode Durability { get; init; } = DurabilityMode.PerBatch;

    /// <summary>Sync period for <see cref="DurabilityMode.Interval"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "10675199.02:48:05.4775807", MinimumIsExclusive = true, ErrorMessage = "{0} must be more than {1}")]
    public TimeSpan SyncInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Bytes of records an active memtable holds before it is swapped out and flushed (at most 1 GiB: a WAL file is replayed through one mapping).</summary>
    [Range(typeof(long), "65536", "1073741824")]
    public long MemtableBytes { get; init; } = 64L << 20;

    /// <summary>Swapped memtables waiting for flush; writers wait when this many are pending (back-pressure).</summary>
    [Range(1, int.MaxValue, ErrorMessage = "{0} must be at least {1}")]
    public int MaxImmutableMemtables { get; init; } = 2;

    [Range(typeof(long), "0", "9223372036854775807", ErrorMessage = "{0} must be at least {1}")]
    public long BlockCacheBytes { get; init; } = 32L << 20;

    /// <summary>
    /// Segments memory-mapped at once; past it the least recently read are unmapped, and mapped again when next read.
    /// Every mapped segment is one of the process's memory mappings, which Linux caps at <c>vm.max_map_count</c>, and a
    /// .NET process reaching the cap dies. 0 (the default): half the cap (32,765 with Linux's default), or 32,768 where
    /// it cannot be read. Per store: a process holding several stores should divide it among them.
    /// </summary>
    [Range(0, int.MaxValue, ErrorMessage = "{0} must be at least {1}")]
    public int MaxMappedSegments { get; init; }

    /// <summary>Target size of a segment data block.</summary>
    [Range(512, 1 << 20)]
    public int BlockBytes { get; init; } = 4 << 10;

    /// <summary>Compaction output is cut into segments of about this size.</summary>
    [Range(typeof(long), "65536", "9223372036854775807", ErrorMessage = "{0} must be at least {1}")]
    public long TargetSegmentBytes { get; init; } = 64L << 20;

    /// <summary>
    /// A log holding at least this many bytes in a flushed memtable gets a segment of its own. A one-log segment never
    /// overlaps another log's keys nor that log's later records, so compaction moves it down the levels instead of
    /// rewriting it (and retention deletes it whole); logs that appended less share segments, which compaction merges.
    /// At most <see cref="MemtableBytes"/> / this many segments per flush.
    /// </summary>
    [Range(typeof(long), "4096", "9223372036854775807", ErrorMessage = "{0} must be at least {1}")]
    public long SeparateLogSegmentBytes { get; init; } = 256L << 10;

    /// <summary>
    /// A one-log segment under this size is merged with the same log's next segments as it goes down the levels (up to
    /// <see cref="TargetSegmentBytes"/>); one of this size or more moves down whole and is never rewritten to save files.
    /// Merging rewrites every byte of the log once, which pays when it cuts its files many times over (a silo with a
    /// hundred busy replicas flushes segments of well under a MiB each) and not when it cuts them a few times (with six,
    /// about 10 MiB each: the merge cost a fifth of the silos' CPU in <c>produce-rf3-100B-batch1000</c>). 0: never merge.
    /// </summary>
    [Range(typeof(long), "0", "9223372036854775807", ErrorMessage = "{0} must be at least {1}")]
    public long SmallLogSegmentBytes { get; init; } = 8L << 20;

    /// <summary>Number of L0 segments that triggers an L0 → L1 compaction.</summary>
    [Range(1, int.MaxValue, ErrorMessage = "{0} must be at least {1}")]
    public int L0CompactionTrigger { get; init; } = 4;

    /// <summary>Size of L1; each deeper level is <see cref="LevelSizeMultiplier"/> times larger.</summary>
    [Range(typeof(long), "65536", "9223372036854775807", ErrorMessage = "{0} must be at least {1}")]
    public long L1TargetBytes { get; init; } = 256L << 20;

    [Range(2, int.MaxValue, ErrorMessage = "{0} must be at least {1}")]
    public int LevelSizeMultiplier { get; init; } = 10;

    /// <summary>Write rate of background compaction so foreground appends keep the disk; 0 = unlimited.</summary>
    [Range(typeof(long), "0", "9223372036854775807", ErrorMessage = "{0} must be at least {1}")]
    public long CompactionBytesPerSecond { get; init; } = 128L << 20;

    /// <summary>Bloom filter bits per key (10 ≈ 1% false positives).</summary>
    [Range(1, 32)]
    public int BloomBitsPerKey { get; init; } = 10;

    /// <summary>How often the background worker applies retention (set per log with <see cref="PyramidStore.SetRetention"/>).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "10675199.02:48:05.4775807", MinimumIsExclusive = true, ErrorMessage = "{0} must be more than {1}")]
    public TimeSpan RetentionCheckInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Granularity of retention: a time/size marker is kept every this many appended bytes ...</summary>
    [Range(typeof(long), "4096", "9223372036854775807", ErrorMessage = "{0} must be at least {1}")]
    public long RetentionMarkerBytes { get; init; } = 1L << 20;

    /// <summary>... or at least this often.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "10675199.02:48:05.4775807", MinimumIsExclusive = true, ErrorMessage = "{0} must be more than {1}")]
    public TimeSpan RetentionMarkerInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Clock for retention by age and record timestamps; tests inject a fake one.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// The largest a WAL file grows (recovery replays one through a single mapping): past it the memtable is swapped
    /// out, whatever its size, since a WAL can grow faster than its memtable (small records, truncations, overwritten
    /// keys). Tests lower it; the default is what replay can read.
    /// </summary>
    internal long MaxWalFileBytes { get; init; } = Wal.WalReader.MaxFileBytes;

    /// <summary>The file system the store's files live on; tests stand in one that simulates power loss.</summary>
    internal IStorageDevice Device { get; init; } = FileSystemDevice.Instance;

    /// <summary>Runs background flush and compaction; false leaves them to explicit FlushAsync/CompactAsync calls.</summary>
    public bool BackgroundWork { get; init; } = true;

    /// <summary>CPU and I/O priority of the flush and compaction threads (see <see cref="T:Pyralog.Storage.Native.BackgroundPriority"/>); other than Normal needs Linux.</summary>
    public BackgroundPriority BackgroundPriority { get; init; } = BackgroundPriority.Normal;

    /// <summary>Throws <see cref="ArgumentException"/> naming every setting out of its range and the value it has.</summary>
    public void Validate()
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(this, new ValidationContext(this), results, validateAllProperties: true))
        {
            throw new ArgumentException(string.Join(" ", results.Select(Describe)), results[0].MemberNames.FirstOrDefault());
        }

        if (!Enum.IsDefined(BackgroundPriority))
        {
            throw new ArgumentException($"{nameof(PyramidOptions)}.{nameof(BackgroundPriority)} must be Normal, Low or Idle (was {BackgroundPriority}).", nameof(BackgroundPriority));
        }

        if (BackgroundPriority != BackgroundPriority.Normal && !OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException($"{nameof(PyramidOptions)}.{nameof(BackgroundPriority)} {BackgroundPriority} needs Linux; use Normal on this system.");
        }
    }

    /// <summary>"The field X must be …" as "PyramidOptions.X must be … (was value)."</summary>
    private string Describe(ValidationResult result)
    {
        var member = result.MemberNames.First();
        var value = typeof(PyramidOptions).GetProperty(member)?.GetValue(this);
        var message = (result.ErrorMessage ?? string.Empty).Replace("The field ", string.Empty, StringComparison.Ordinal).TrimEnd('.');
        return $"{nameof(PyramidOptions)}.{message} (was {value}).";
    }
}
