namespace Pyralog.Storage.Native.Wal;

/// <summary>What replaying one WAL file found: where its valid prefix ends and what was dropped after it.</summary>
internal readonly record struct WalFileReplay(long ValidLength, long DroppedBytes, long Frames, ulong LastSequence);
