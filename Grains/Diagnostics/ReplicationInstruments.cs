using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Pyralog.Grains.Diagnostics;

/// <summary>
/// Pyralog's partition and Raft instruments (meter <c>Pyralog.Replication</c>). Series are tagged with the log id
/// (<c>pyralog.log.id</c>) only, unless <see cref="TagPartitions"/> adds the partition: a silo with 10,000 partitions
/// would otherwise export 10,000 series per instrument. Recording costs a few nanoseconds when nothing listens.
/// </summary>
public static class ReplicationInstruments
{
    public const string MeterName = "Pyralog.Replication";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Spans of the partition data path: a leader's append, from its proposal to its acknowledgement.</summary>
    public static readonly ActivitySource Source = new(MeterName);

    // Invariant: one entry per partition or metadata replica on this process that leads, holding the largest
    // number of committed-or-appended entries a voter of its group is missing as of its last pass.
    private static readonly ConcurrentDictionary<string, long> LeaderLag = new(StringComparer.Ordinal);

    public static readonly Counter<long> AppendedRecords = Meter.CreateCounter<long>(
        "pyralog.partition.appended.records", "{record}", "Records acknowledged by partition leaders on this silo.");

    public static readonly Counter<long> AppendedBytes = Meter.CreateCounter<long>(
        "pyralog.partition.appended.bytes", "By", "Encoded record bytes acknowledged by partition leaders on this silo.");

    public static readonly Histogram<double> CommitDuration = Meter.CreateHistogram<double>(
        "pyralog.partition.commit.duration", "s", "From a leader's proposal of a batch to its acknowledgement (committed on a quorum and applied).");

    public static readonly UpDownCounter<long> Leaders = Meter.CreateUpDownCounter<long>(
        "pyralog.replica.leaders", "{group}", "Raft groups (partitions, and the metadata group) led by replicas on this silo.");

    public static readonly UpDownCounter<long> Replicas = Meter.CreateUpDownCounter<long>(
        "pyralog.replica.active", "{replica}", "Replicas (leaders, followers and learners) running on this silo.");

    public static readonly UpDownCounter<long> Ticking = Meter.CreateUpDownCounter<long>(
        "pyralog.replica.ticking", "{replica}", "Replicas on this silo whose tick timer runs (not quiesced): each costs heartbeats or election checks every tick.");

    public static readonly Counter<long> Wakes = Meter.CreateCounter<long>(
        "pyralog.replica.wakes", "{wake}", "Times a quiesced replica on this silo woke up (tag pyralog.wake.reason: message, wake-request, proposal, read, leadership, membership or activation).");

    public static readonly Counter<long> Elections = Meter.CreateCounter<long>(
        "pyralog.raft.elections", "{election}", "Elections replicas on this silo started as candidates (each is a new term, an epoch change if won).");

    public static readonly Counter<long> LeaderChanges = Meter.CreateCounter<long>(
        "pyralog.raft.leader.changes", "{change}", "Times a replica on this silo became leader of its group (a new epoch).");

    public static readonly Counter<long> ReplicaMoves = Meter.CreateCounter<long>(
        "pyralog.replica.moves", "{move}", "Replica moves the mover on this silo ended (tag pyralog.move.outcome: moved or abandoned).");

    public static readonly Histogram<double> ReplicaMoveDuration = Meter.CreateHistogram<double>(
        "pyralog.replica.move.duration", "s", "From a replica move's start to the old replica's removal (its data copied to the new silo).");

    public static readonly Counter<long> CatchUpBytes = Meter.CreateCounter<long>(
        "pyralog.replica.catchup.bytes", "By", "Bytes leaders on this silo sent to replicas being added (learners), paced by Pyralog:Replication:CatchUpBytesPerSecond.");

    public static readonly Counter<double> CatchUpWait = Meter.CreateCounter<double>(
        "pyralog.replica.catchup.wait", "s", "Time sends to learners waited for the silo's catch-up budget, summed over the sends.");

    public static readonly Counter<long> EnvelopesAhead = Meter.CreateCounter<long>(
        "pyralog.replica.envelopes.ahead", "{envelope}", "Raft envelopes that reached a replica on this silo before one its sender sent earlier, and were held back to restore the order.");

    public static readonly Counter<long> EnvelopeGapsGivenUp = Meter.CreateCounter<long>(
        "pyralog.replica.envelopes.gaps", "{gap}", "Missing Raft envelopes replicas on this silo stopped waiting for (lost, or later than two ticks), handing on those after them.");

    public static readonly Counter<long> EnvelopesLate = Meter.CreateCounter<long>(
        "pyralog.replica.envelopes.late", "{envelope}", "Raft envelopes that reached a replica on this silo after it had stopped waiting for them.");

    static ReplicationInstruments()
    {
        Meter.CreateObservableGauge(
            "pyralog.replica.follower.lag", MaxLag, "{entry}", "The largest number of log entries a voter is behind its leader, over the groups led on this silo.");
    }

    /// <summary>Adds <c>pyralog.partition</c> to partition series. Set once at start (the silo host's <c>Silo:PartitionMetrics</c>).</summary>
    public static bool TagPartitions { get; set; }

    /// <summary>Tags for a partition's series.</summary>
    public static TagList PartitionTags(ulong logId, int partition)
    {
        var tags = new TagList { { "pyralog.log.id", (long)logId } };
        if (TagPartitions)
        {
            tags.Add("pyralog.partition", partition);
        }

        return tags;
    }

    /// <summary>Records the lag a leader sees after a pass; <paramref name="leads"/> false forgets the replica.</summary>
    internal static void ReportLag(string replicaKey, bool leads, long lag)
    {
        if (leads)
        {
            LeaderLag[replicaKey] = lag;
        }
        else
        {
            LeaderLag.TryRemove(replicaKey, out _);
        }
    }

    private static long MaxLag()
    {
        long max = 0;
        foreach (var (_, lag) in LeaderLag)
        {
            max = Math.Max(max, lag);
        }

        return max;
    }
}
