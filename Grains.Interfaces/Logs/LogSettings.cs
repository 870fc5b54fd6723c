namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>Per-log settings fixed at creation.</summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.LogSettings")]
public sealed record LogSettings
{
    /// <summary>Largest record accepted, in encoded bytes (key + value + headers + 20).</summary>
    public const int DefaultMaxRecordBytes = 1 << 20;

    /// <summary>Largest append batch accepted, in encoded bytes.</summary>
    public const int MaxBatchBytes = 16 << 20;

    /// <summary>
    /// The largest append batch (64 KiB, encoded) whose log entry, wrapped in the envelope that carries it to a follower,
    /// stays under .NET's large-object threshold of 85,000 bytes. Larger arrays come from pages the GC hands back and
    /// maps again (the received ones zeroed as well) and are collected only with generation 2: with 1 MiB batches the
    /// window benchmark's replicas spent about 15 % more CPU per record. The producer's default batch size.
    /// </summary>
    public const int LargeObjectSafeBatchBytes = 64 << 10;

    /// <summary>
    /// The most record bytes one read returns, whatever budget its caller asks (besides the first record, which a read
    /// always returns): a read materializes its records in the silo's memory and travels as one Orleans message, whose
    /// body Orleans refuses above 100 MB.
    /// </summary>
    public const int MaxReadBytes = 32 << 20;

    /// <summary>The shortest <see cref="RetentionAge"/> accepted.</summary>
    public static readonly TimeSpan MinRetentionAge = TimeSpan.FromSeconds(1);

    /// <summary>The smallest <see cref="RetentionBytes"/> accepted (1 MiB).</summary>
    public const long MinRetentionBytes = 1 << 20;

    [Id(0)]
    public LogDurability Durability { get; init; } = LogDurability.Fsync;

    [Id(1)]
    public int MaxRecordBytes { get; init; } = DefaultMaxRecordBytes;

    /// <summary>
    /// Records older than this (by their append time) are dropped from each partition, whole batches at a time
    /// (null: kept forever). At least <see cref="MinRetentionAge"/>, whole milliseconds.
    /// </summary>
    [Id(2)]
    public TimeSpan? RetentionAge { get; init; }

    /// <summary>
    /// The most record bytes (encoded batches) each partition keeps: the oldest batches are dropped while the rest
    /// exceed it, the newest batch always stays (null: unlimited). At least <see cref="MinRetentionBytes"/>.
    /// </summary>
    [Id(3)]
    public long? RetentionBytes { get; init; }

    /// <summary>The settings in words, as errors and descriptions show them.</summary>
    public string Describe() =>
        $"durability {Durability}, max record {MaxRecordBytes} bytes, retention age {(RetentionAge is { } age ? FormatAge(age) : "forever")}, " +
        $"retention bytes {(RetentionBytes is { } bytes ? bytes.ToString(System.Globalization.CultureInfo.InvariantCulture) : "unlimited")}";

    /// <summary>A retention age as a short duration: <c>7d</c>, <c>36h</c>, <c>90m</c>, <c>45s</c>, <c>1500ms</c>.</summary>
    public static string FormatAge(TimeSpan age)
    {
        var ms = (long)age.TotalMilliseconds;
        return ms % 86_400_000 == 0 ? $"{ms / 86_400_000}d"
            : ms % 3_600_000 == 0 ? $"{ms / 3_600_000}h"
            : ms % 60_000 == 0 ? $"{ms / 60_000}m"
            : ms % 1000 == 0 ? $"{ms / 1000}s"
            : $"{ms}ms";
    }
}
