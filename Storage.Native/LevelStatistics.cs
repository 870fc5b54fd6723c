namespace Pyralog.Storage.Native;

/// <summary>Segments, bytes, entries (all versions and tombstones) and log records of one LSM level.</summary>
public sealed record LevelStatistics(int Level, int Segments, long Bytes, long Entries, long LogRecords);
