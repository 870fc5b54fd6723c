using System.Collections.Concurrent;
using System.Text;
using Pyralog.Client;
using Pyralog.Client.Cluster;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;
using Xunit.Abstractions;

namespace Pyralog.Silo.Tests.Partitions;

/// <summary>
/// Scaling a cluster of silo processes while producers and consumers run: three silos, a log of six partitions at RF 3;
/// a fourth and a fifth silo join and replicas move onto each until the cluster is balanced; then one silo is drained
/// (its replicas move away) and stopped, and another is stopped with SIGTERM alone (its replicas move away before it
/// exits). Producers send to every partition the whole time and must see no failed record (only latency); a consumer
/// per partition follows from the start. At the end every acknowledged record is in its partition once, in order, at
/// its acknowledged offset, the consumers saw exactly those records, and every partition has three replicas on the
/// three silos left. Uses Redis membership when redis-server is installed; otherwise development membership, whose
/// primary (silo 0) is never stopped.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ScalingProcessTests : IDisposable
{
    private const string Log = "scaling";
    private const int Partitions = 6;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(120);
    private readonly ITestOutputHelper _output;
    private readonly string _root = Directory.CreateTempSubdirectory("pyralog-scaling-").FullName;

    public ScalingProcessTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Silos_join_drain_and_stop_while_producers_see_no_failure_and_nothing_is_lost_or_duplicated()
    {
        await using var cluster = await PartitionCluster.StartAsync(
            _root, preferRedis: true, _output.WriteLine,
            "--Pyralog:Replication:ReplicaMoveInterval", "00:00:01", "--Pyralog:Replication:LeaderBalanceInterval", "00:00:02");
        await cluster.CreateLogAsync(Log, Partitions, 3, null, TimeSpan.FromMinutes(2));
        await cluster.WaitForLeadersAsync(Log, allReplicas: true, TimeSpan.FromSeconds(60));

        using var stop = new CancellationTokenSource();
        var acks = Enumerable.Range(0, Partitions).Select(_ => new ConcurrentQueue<(string Value, RecordAck Ack)>()).ToArray();
        var seen = Enumerable.Range(0, Partitions).Select(_ => new ConcurrentQueue<(string Value, ulong Epoch, ulong Offset)>()).ToArray();
        await using var producer = cluster.Client.CreateProducer(new ProducerOptions { Linger = TimeSpan.FromMilliseconds(1) });
        var producing = ProduceAsync(producer, acks, stop.Token);
        using var consuming = new CancellationTokenSource();
        var consumers = Enumerable.Range(0, Partitions).Select(p => ConsumeAsync(cluster.Client, p, seen[p], consuming.Token)).ToArray();

        // Two silos join, one at a time: replicas move onto each until the cluster is balanced.
        for (var joined = 0; joined < 2; joined++)
        {
            var silo = await cluster.AddSiloAsync();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var status = await WaitForAsync(cluster, s => s.Balanced && Active(s) == 4 + joined && Hosts(cluster, s, silo) > 0, $"silo {silo} joined and balanced", producing);
            _output.WriteLine($"silo {silo} joined, balanced {clock.Elapsed.TotalSeconds:0.0} s after it started: {Describe(cluster, status)}");
        }

        // Drain silo 1, wait until it hosts nothing, then stop it.
        var drained = 1;
        var drain = await cluster.Client.DrainSiloAsync(cluster.Endpoint(drained));
        Assert.True(drain.Draining);
        var drainClock = System.Diagnostics.Stopwatch.StartNew();
        // Balanced: the draining silo holds nothing and counts in no mean; the others share its replicas and leaders.
        await WaitForAsync(cluster, s => s.Balanced && Hosts(cluster, s, drained) == 0 && s.Silos.Count(a => a.Draining) == 1, $"silo {drained} drained of replicas, the rest balanced", producing);
        _output.WriteLine($"silo {drained} drained of its replicas {drainClock.Elapsed.TotalSeconds:0.0} s after the drain returned");
        Assert.Equal(0, await cluster.StopAsync(drained));

        // Stop silo 2 with SIGTERM alone: its replicas move away before it exits.
        var stopped = 2;
        var stopClock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, await cluster.StopAsync(stopped));
        _output.WriteLine($"silo {stopped} stopped in {stopClock.Elapsed.TotalSeconds:0.0} s: {string.Join(" | ", cluster.OutputTail(stopped, 5000).Split('\n').Where(l => l.Contains("replicas", StringComparison.Ordinal) && l.Contains("Silo", StringComparison.Ordinal)))}");
        Assert.Contains("moved all its replicas away", cluster.OutputTail(stopped, 5000), StringComparison.Ordinal);
        var final = await WaitForAsync(
            cluster, s => s.Balanced && Active(s) == 3 && s.Silos.Where(a => a.IsActive).All(a => a.Replicas == Partitions), "every partition on the three silos left", producing);
        _output.WriteLine($"after the stops: {Describe(cluster, final)}");

        await stop.CancelAsync();
        await producing; // a ProduceException here is a record a producer saw fail
        var description = await cluster.WaitForLeadersAsync(Log, allReplicas: true, TimeSpan.FromSeconds(60));
        Assert.All(description.Partitions, p => Assert.Equal(3, p.Replicas.Length));

        // Every acknowledged record once, in order, at its acknowledged address; the consumers saw exactly those.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        for (var p = 0; p < Partitions; p++)
        {
            var acked = acks[p].ToArray();
            Assert.NotEmpty(acked);
            Assert.Equal(Enumerable.Range(0, acked.Length).Select(i => (ulong)i), acked.Select(a => a.Ack.Offset));
            while (seen[p].Count < acked.Length && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            Assert.Equal(acked.Select(a => (a.Value, a.Ack.Epoch, a.Ack.Offset)), seen[p].ToArray());
        }

        await consuming.CancelAsync();
        await Task.WhenAll(consumers);
        _output.WriteLine($"{acks.Sum(a => a.Count)} records acknowledged and consumed once each");
    }

    /// <summary>Rounds of one record to every partition, each round awaited, until <paramref name="stop"/>.</summary>
    private static async Task ProduceAsync(LogProducer producer, ConcurrentQueue<(string, RecordAck)>[] acks, CancellationToken stop)
    {
        await Task.Yield();
        for (var round = 0; !stop.IsCancellationRequested; round++)
        {
            var sends = new Task<RecordAck>[Partitions];
            for (var p = 0; p < Partitions; p++)
            {
                sends[p] = producer.ProduceAsync(Log, p, new ProducerRecord(null, Encoding.UTF8.GetBytes($"r{round}p{p}")));
            }

            for (var p = 0; p < Partitions; p++)
            {
                acks[p].Enqueue(($"r{round}p{p}", await sends[p]));
            }
        }
    }

    /// <summary>Follows partition <paramref name="partition"/> from its start until cancelled.</summary>
    private static async Task ConsumeAsync(PyralogClient client, int partition, ConcurrentQueue<(string, ulong, ulong)> seen, CancellationToken stop)
    {
        await Task.Yield();
        var consumer = client.CreateConsumer();
        try
        {
            await foreach (var record in consumer.ConsumeAsync(Log, partition, ConsumeFrom.Earliest, stop))
            {
                seen.Enqueue((Encoding.UTF8.GetString(record.Value), record.Epoch, record.Offset));
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Polls cluster status until <paramref name="done"/>, failing early if the producers failed.</summary>
    private static async Task<ClusterStatus> WaitForAsync(PartitionCluster cluster, Func<ClusterStatus, bool> done, string what, Task producing)
    {
        var deadline = DateTime.UtcNow + Budget;
        ClusterStatus? last = null;
        while (true)
        {
            if (producing.IsFaulted)
            {
                await producing; // the producers' failure is the finding
            }

            try
            {
                last = await cluster.Client.GetClusterStatusAsync().WaitAsync(TimeSpan.FromSeconds(10));
                if (done(last))
                {
                    return last;
                }
            }
            catch (TimeoutException)
            {
            }

            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail($"not {what} within {Budget.TotalSeconds:0} s: {(last is null ? "no status" : Describe(cluster, last))}; the silos' output is in {await cluster.SaveOutputAsync("scaling-test")}");
            }
            await Task.Delay(250);
        }
    }

    private static int Active(ClusterStatus status) => status.Silos.Count(s => s.IsActive);

    private static int Hosts(PartitionCluster cluster, ClusterStatus status, int silo) =>
        status.Silos.Where(s => cluster.SiloOf(s.Address) == silo && s.IsActive).Sum(s => s.Replicas);

    private static string Describe(PartitionCluster cluster, ClusterStatus status) =>
        string.Join(", ", status.Silos.Select(s => $"silo {cluster.SiloOf(s.Address)} {s.Status} {s.Replicas} replicas {s.Leaders} leaders")) + $"; {status.Verdict()}";
}
