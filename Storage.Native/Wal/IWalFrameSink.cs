namespace Pyralog.Storage.Native.Wal;

/// <summary>Receives the frames recovery replays, in sequence order.</summary>
internal interface IWalFrameSink
{
    /// <param name="source">The mapped WAL file the ops live in; log records may keep referencing it.</param>
    /// <param name="opsPosition">Position of <paramref name="ops"/> within <paramref name="source"/>.</param>
    void ApplyFrame(ulong sequence, long timestampMs, int opCount, ReadOnlySpan<byte> ops, ReadOnlyMemory<byte> source, int opsPosition);
}
