namespace Pyralog.Storage.Native.Wal;

/// <summary>Operation codes inside a WAL frame (stable on disk: never renumber).</summary>
internal enum WalOp : byte
{
    /// <summary>[first offset u64][count i32], then count × [payload length i32][epoch u64][payload]</summary>
    LogAppend = 1,
    Put = 2,
    Delete = 3,
    TruncateSuffix = 4,
    TruncatePrefix = 5,
}
