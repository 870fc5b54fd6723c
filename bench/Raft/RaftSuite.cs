using Pyralog.Bench.Harness;
using Pyralog.Consensus;

namespace Pyralog.Bench.Raft;

/// <summary>
/// The pure Raft core on one thread, no I/O: a 3-node group whose hosts write each persist batch to
/// <see cref="MemoryRaftStorage"/> and acknowledge it at once,
/// hand messages to each other directly and apply committed entries. The leader gets batches of 100-byte proposals
/// (payloads are slices of one preallocated buffer, as a host would pass slices of its receive buffers), with up to
/// four batches in flight so replication is pipelined. Reported: committed entries per second (wall clock),
/// CPU ns per committed entry (process CPU time; the run is single-threaded with non-concurrent GC), bytes
/// allocated per entry (measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/>), and allocations per entry,
/// which .NET cannot count directly (the runtime's allocation events are sampled), so two figures:
/// <c>counted-allocs/entry</c>, the objects the steady path is known to allocate (one <see cref="Message"/> per message,
/// one entry array per distinct range of entries sent, per persist batch the batch, its entry copy and its list of
/// waiting messages), counted as the suite routes them — not a measurement; and
/// <c>allocs/entry-max</c>, an upper bound from measurements: the counted objects plus the measured bytes they do not
/// account for (object sizes measured at start-up; <c>unaccounted</c>) divided by 24 B, the smallest .NET object.
/// </summary>
public sealed class RaftSuite : IBenchSuite
{
    /// <summary>An object header, a method table pointer and the minimum payload slot on 64-bit .NET.</summary>
    private const int SmallestObjectBytes = 24;

    public string Name => "raft";

    public string Description => "pure Raft core: 3-node group in memory, 100 B proposals, batched";

    public Task RunAsync(BenchReport report, CancellationToken cancellationToken)
    {
        var group = new RaftBenchGroup(3);
        group.ElectLeader();
        group.Run(TimeSpan.FromSeconds(2), cancellationToken);
        var measured = group.Run(TimeSpan.FromSeconds(8), cancellationToken);

        const string suite = "raft", @case = "3-nodes-100B", system = "pyralog";
        report.Add(suite, @case, system, "entries/s", measured.Entries / measured.Wall.TotalSeconds, "entries/s");
        report.Add(suite, @case, system, "ns/entry", measured.Cpu.TotalNanoseconds / measured.Entries, "ns");
        var unaccounted = (double)(measured.Bytes - measured.AccountedBytes) / measured.Entries;
        var counted = (double)measured.Allocations / measured.Entries;
        report.Add(suite, @case, system, "counted-allocs/entry", counted, "allocs");
        report.Add(suite, @case, system, "allocs/entry-max", counted + Math.Max(0, unaccounted) / SmallestObjectBytes, "allocs");
        report.Add(suite, @case, system, "bytes/entry", (double)measured.Bytes / measured.Entries, "B");
        report.Add(suite, @case, system, "unaccounted", unaccounted, "B/entry");
        return Task.CompletedTask;
    }
}
