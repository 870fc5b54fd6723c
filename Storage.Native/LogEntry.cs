namespace Pyralog.Storage.Native;

/// <summary>A log record to append: its Raft epoch (term), its dense offset and its payload.</summary>
public readonly record struct LogEntry(ulong Epoch, ulong Offset, ReadOnlyMemory<byte> Payload);
