namespace Pyralog.Storage.Native;

/// <summary>What <see cref="PyramidStore.Open"/> found: replayed WAL, and the torn frame it dropped (never acknowledged
/// data): <see cref="TornFile"/> and <see cref="TornAtByte"/> locate it, <see cref="DroppedBytes"/> is its length as its
/// header declares (cut at the end of the file). Zeros or a recycled file's stale frames after the last frame are a
/// clean end: <see cref="TornFile"/> null and <see cref="DroppedBytes"/> 0.</summary>
public sealed record RecoveryReport(
    int WalFilesReplayed, long FramesReplayed, long BytesReplayed, string? TornFile, long TornAtByte, long DroppedBytes,
    int OrphanSegmentsDeleted, TimeSpan Duration);
