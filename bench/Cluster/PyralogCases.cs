using System.Diagnostics;
using System.Globalization;
using Pyralog.Bench.Harness;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Silo.Tests.Partitions;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// Pyralog's side of the suite: three Pyralog.Silo processes (<see cref="PartitionCluster"/>, Redis membership when
/// redis-server is installed), one log of one partition at RF 3 per durability (<c>-fsync</c>: a majority fsynced;
/// <c>-os-cache</c>: a majority's page caches), 100 B records without keys, produced record by record by an idempotent
/// producer. Built with <c>PYRALOG_CLIENT_LOGS</c> (the client library's <c>LogProducer</c>/<c>LogConsumer</c> are on
/// main) the records go through the client library (<see cref="PyralogClientPath"/>; <c>PYRALOG_BENCH_PATH=grains</c>
/// picks the other); otherwise through the grain interfaces (<see cref="PyralogGrainPath"/>).
/// </summary>
internal static class PyralogCases
{
    public const string System = "pyralog";

    public static readonly (string Suffix, LogDurability Durability)[] Durabilities =
    [
        ("-fsync", LogDurability.Fsync),
        ("-os-cache", LogDurability.OsCache),
    ];

    public static async Task RunAsync(BenchReport report, string root, CancellationToken cancellationToken)
    {
        await using var cluster = await PartitionCluster.StartAsync(root, preferRedis: true, ClusterSettings.Log, ClusterSettings.SiloArgs);
        var payload = ClusterSettings.Payload();
        var record = new ProducerRecord(null, payload); // immutable: shared by every produce
        foreach (var (suffix, durability) in Durabilities)
        {
            if (!new[] { "produce-100B-window", "produce-100B-sync", "consume-100B" }.Any(c => BenchSelection.Case(c + suffix)))
            {
                continue;
            }

            var (log, leader) = await CreateLogAsync(cluster, $"cluster{suffix}", 1, durability);
            await using var producer = PathFor(cluster, log, leader);
            ClusterSettings.Log($"pyralog: records go through {producer.Description}");
            await ClusterReport.RunCaseAsync(report, "produce-100B-window" + suffix, System, async () =>
            {
                var result = await LoadDriver.RunAsync(ClusterSettings.Window, ClusterSettings.Warmup, ClusterSettings.WindowMeasure, _ => producer.ProduceAsync(record), () => cluster.ProcessIds, cancellationToken);
                ClusterReport.Produce(report, "produce-100B-window" + suffix, System, result, withThroughput: true);
            });
            await ClusterReport.RunCaseAsync(report, "produce-100B-sync" + suffix, System, async () =>
            {
                var result = await LoadDriver.RunAsync(1, ClusterSettings.Warmup, ClusterSettings.SyncMeasure, _ => producer.ProduceAsync(record), () => cluster.ProcessIds, cancellationToken);
                ClusterReport.Produce(report, "produce-100B-sync" + suffix, System, result, withThroughput: false);
            });
            await ClusterReport.RunCaseAsync(report, "consume-100B" + suffix, System, () => ConsumeAsync(report, cluster, log, producer, "consume-100B" + suffix, cancellationToken));
        }

        foreach (var (suffix, durability) in Durabilities)
        {
            await ClusterReport.RunCaseAsync(report, "failover" + suffix, System, () => FailoverAsync(report, cluster, "failover" + suffix, durability, payload, cancellationToken));
        }
    }

    internal static IPyralogPath PathFor(PartitionCluster cluster, LogInfo log, int leader) =>
#if PYRALOG_CLIENT_LOGS
        Environment.GetEnvironmentVariable("PYRALOG_BENCH_PATH") is "grains"
            ? new PyralogGrainPath(cluster.Grains, log, leader)
            : new PyralogClientPath(cluster.Client, log);
#else
        new PyralogGrainPath(cluster.Grains, log, leader);
#endif

    /// <summary>Creates a log and waits (bounded) until each partition has a leader and every replica leads or follows; returns it and partition 0's leader.</summary>
    internal static async Task<(LogInfo Log, int Leader)> CreateLogAsync(PartitionCluster cluster, string name, int partitions, LogDurability durability)
    {
        var watch = Stopwatch.StartNew();
        var log = await cluster.CreateLogAsync(name, partitions, 3, new LogSettings { Durability = durability }, TimeSpan.FromMinutes(2));
        var description = await cluster.WaitForLeadersAsync(name, allReplicas: true, TimeSpan.FromSeconds(60));
        ClusterSettings.Log($"pyralog: log '{name}' ({partitions} partition(s), RF 3, {durability}) ready in {watch.Elapsed.TotalSeconds:0.0} s, partition 0 led on silo {cluster.SiloOf(description.Partitions[0].LeaderSilo)}");
        return (log, description.Partitions[0].LeaderReplica);
    }

    /// <summary>
    /// Reads the partition from its first offset to its committed end when the case began (everything the produce cases
    /// wrote), one read of about <see cref="ClusterSettings.ReadPage"/> records' bytes in flight.
    /// </summary>
    private static async Task ConsumeAsync(BenchReport report, PartitionCluster cluster, LogInfo log, IPyralogPath path, string @case, CancellationToken cancellationToken)
    {
        var description = await cluster.WaitForLeadersAsync(log.Name, allReplicas: false, TimeSpan.FromSeconds(60));
        var partition = description.Partitions[0];
        var replica = cluster.Grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, partition.LeaderReplica));
        var status = await replica.GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        var expected = (long)(status.NextOffset - status.FirstOffset);
        var watch = Stopwatch.StartNew();
        var (records, bytes) = await path.ConsumeAsync(expected, ClusterSettings.ConsumeBudget, cancellationToken);
        var elapsed = watch.Elapsed;
        if (bytes != records * ClusterSettings.RecordBytes)
        {
            ClusterSettings.Log($"pyralog consume: {bytes} bytes in {records} records, not {ClusterSettings.RecordBytes} B each");
        }

        ClusterReport.Consume(report, @case, System, records, elapsed, expected);
    }

    /// <summary>
    /// Trials of <see cref="FailoverProbe"/> on a log of 3 partitions: the partition whose leader runs on a silo that
    /// may be killed is chosen; the producer sends one record at a time, idempotently (an attempt not acknowledged within
    /// 250 ms is sent again, same sequence, to the next replica or the named leader); the leader's silo process is
    /// SIGKILLed and started again on its data before the next trial, which waits until every replica is back.
    /// </summary>
    private static async Task FailoverAsync(BenchReport report, PartitionCluster cluster, string @case, LogDurability durability, byte[] payload, CancellationToken cancellationToken)
    {
        var (log, leader) = await CreateLogAsync(cluster, @case, 3, durability);
        await using var path = PathFor(cluster, log, leader);
        var random = new Random(ClusterSettings.Seed);
        var trials = new List<double>();
        var failed = 0;
        for (var trial = 0; trial < 3 * ClusterSettings.FailoverTrials && trials.Count + failed < ClusterSettings.FailoverTrials; trial++)
        {
            var description = await cluster.WaitForLeadersAsync(log.Name, allReplicas: true, TimeSpan.FromSeconds(90));
            var candidates = description.Partitions
                .Select(p => (Partition: p, Silo: cluster.SiloOf(p.LeaderSilo ?? p.Replicas[p.LeaderReplica].Silo)))
                .Where(c => c.Silo is { } silo && cluster.CanKill(silo))
                .ToList();
            if (candidates.Count == 0)
            {
                ClusterSettings.Log($"pyralog {@case}: no leader on a silo that may be killed; asking again");
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
                continue;
            }

            var (partition, silo) = candidates[random.Next(candidates.Count)];
            var victim = silo.GetValueOrDefault();
            var attempt = path.FailoverProducer(partition.Partition, partition.LeaderReplica, payload);
            try
            {
                var ms = await FailoverProbe.TrialAsync(attempt, () => cluster.Kill(victim), cancellationToken);
                trials.Add(ms);
                ClusterSettings.Log(string.Create(CultureInfo.InvariantCulture,
                    $"pyralog {@case} trial {trials.Count}: SIGKILL silo {victim} (leader of partition {partition.Partition}) -> first record acknowledged after {ms:0} ms"));
            }
            catch (TimeoutException e)
            {
                ClusterSettings.Log($"pyralog {@case}: SIGKILL silo {victim} FAILED: {e.Message}\n{await cluster.DescribeForDiagnosticsAsync(log.Name)}");
                failed++;
            }
            finally
            {
                if (!cluster.IsRunning(victim))
                {
                    await cluster.RestartAsync(victim, wipeData: false);
                }
            }
        }

        ClusterReport.Failover(report, @case, System, trials, failed);
        ClusterSettings.Log($"pyralog {@case}: the silos' output is in {await cluster.SaveOutputAsync(@case, stacks: false)}");
        var met = ClusterReport.FailoverMet(report, @case, System) == true;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    target {@case} max <= 1,000 ms over {ClusterSettings.FailoverTrials} trials: {(met ? "met" : "MISSED")} ({trials.Count} trials, max {(trials.Count == 0 ? double.NaN : trials.Max()):0} ms, {failed} failed)"));
    }
}
