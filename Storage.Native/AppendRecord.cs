namespace Pyralog.Storage.Native;

/// <summary>A record to append to a log: its epoch (the Raft term of the leader that wrote it), its dense offset and its payload.</summary>
public readonly record struct AppendRecord(ulong Epoch, ulong Offset, ReadOnlyMemory<byte> Payload);
