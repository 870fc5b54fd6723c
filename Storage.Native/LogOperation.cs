using Pyralog.Storage.Native.Wal;

namespace Pyralog.Storage.Native;

/// <summary>One log-space operation of a <see cref="WriteBatch"/>: a run of <see cref="Count"/> appends
/// from <see cref="Offset"/>, or a truncation at <see cref="Offset"/>.</summary>
internal struct LogOperation(ulong log, WalOp kind, ulong offset, int count, ulong lastEpoch)
{
    public readonly ulong Log = log;
    public readonly WalOp Kind = kind;
    public readonly ulong Offset = offset;
    public int Count = count;
    public ulong LastEpoch = lastEpoch;
}
