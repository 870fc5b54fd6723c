using Pyralog.Bench.Harness;
using Pyralog.Grains.Consensus;

namespace Pyralog.Bench.Raft;

/// <summary>
/// The pure Raft core on one thread, no I/O: a 3-node group whose hosts persist to <see cref="MemoryRaftStorage"/>,
/// hand messages to each other directly and apply committed entries. The leader gets batches of 100-byte proposals
/// (payloads are slices of one preallocated buffer, as a host would pass slices of its receive buffers), with up to
/// four batches in flight so replication is pipelined. Reported: committed entries per second (wall clock),
/// CPU ns per committed entry (process CPU time; the run is single-threaded with non-concurrent GC), bytes
/// allocated per entry (measured), and allocations per entry, counted: the steady path allocates exactly one
/// <see cref="Message"/> per message and one entry array per distinct range of entries sent (followers in step share
/// it), which the suite counts as it routes them; the measured bytes are checked against the bytes those objects account for.
/// </summary>
public sealed class RaftSuite : IBenchSuite
{
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
        report.Add(suite, @case, system, "allocs/entry", (double)measured.Allocations / measured.Entries, "allocs");
        report.Add(suite, @case, system, "bytes/entry", (double)measured.Bytes / measured.Entries, "B");
        report.Add(suite, @case, system, "unaccounted", (double)(measured.Bytes - measured.AccountedBytes) / measured.Entries, "B/entry");
        return Task.CompletedTask;
    }
}
