namespace Pyralog.Bench.Raft;

/// <summary>One measured interval of <see cref="RaftBenchGroup.Run"/>.</summary>
internal readonly record struct RaftMeasurement(long Entries, TimeSpan Wall, TimeSpan Cpu, long Allocations, long Bytes, long AccountedBytes);
