namespace Pyralog.Storage.Native.Wal;

/// <summary>Receives the frames recovery replays, in sequence order.</summary>
internal interface IWalFrameSink
{
    void ApplyFrame(ulong sequence, long timestampMs, int opCount, ReadOnlySpan<byte> ops);
}
