namespace Pyralog.Storage.Native;

/// <summary>What <see cref="PyramidStore.Open"/> found: replayed WAL, and the torn tail it dropped (never acknowledged
/// data; in a recycled WAL file the count includes the stale bytes after the torn frame).</summary>
public sealed record RecoveryReport(
    int WalFilesReplayed, long FramesReplayed, long BytesReplayed, string? TornFile, long TornAtByte, long DroppedBytes,
    int OrphanSegmentsDeleted, TimeSpan Duration);
