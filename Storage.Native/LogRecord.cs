namespace Pyralog.Storage.Native;

/// <summary>A log record read back from the store (the payload is a private copy).</summary>
public sealed record LogRecord(ulong Epoch, ulong Offset, byte[] Payload);
