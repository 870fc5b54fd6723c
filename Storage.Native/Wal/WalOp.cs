namespace Pyralog.Storage.Native.Wal;

/// <summary>Operation codes inside a WAL frame (stable on disk: never renumber).</summary>
internal enum WalOp : byte
{
    LogAppend = 1,
    Put = 2,
    Delete = 3,
    TruncateSuffix = 4,
    TruncatePrefix = 5,
}
