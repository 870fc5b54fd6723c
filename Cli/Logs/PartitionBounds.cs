namespace Pyralog.Cli.Logs;

/// <summary>A partition's first retained offset and its committed end (the offset the next record gets).</summary>
internal readonly record struct PartitionBounds(ulong First, ulong End);
