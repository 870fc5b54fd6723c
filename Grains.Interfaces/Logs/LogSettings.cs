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

    [Id(0)]
    public LogDurability Durability { get; init; } = LogDurability.Fsync;

    [Id(1)]
    public int MaxRecordBytes { get; init; } = DefaultMaxRecordBytes;
}
