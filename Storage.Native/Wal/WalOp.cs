namespace Pyralog.Storage.Native.Wal;

/// <summary>Operation codes inside a WAL frame (stable on disk: never renumber).</summary>
internal enum WalOp : byte
{
    /// <summary>[log u64][first offset u64][count i32], then count × [payload length i32][epoch u64][payload]</summary>
    LogAppend = 1,

    /// <summary>[key length i32][value length i32][key][value]</summary>
    Put = 2,

    /// <summary>[key length i32][key]</summary>
    Delete = 3,

    /// <summary>[log u64][offset u64]: removes the log's records at and after offset.</summary>
    TruncateSuffix = 4,

    /// <summary>[log u64][offset u64]: removes the log's records below offset.</summary>
    TruncatePrefix = 5,
}
