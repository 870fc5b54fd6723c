namespace Pyralog.Silo.Tests.Partitions;

/// <summary>One successful read during the run: which replica of which partition answered and the records it returned.</summary>
internal sealed record ReadEvent(int Partition, string Replica, ObservedRecord[] Records);
