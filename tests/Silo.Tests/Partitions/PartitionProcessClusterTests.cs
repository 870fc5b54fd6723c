using System.Diagnostics;
using System.Globalization;
using System.Text;
using Pyralog.Grains.Interfaces.Logs;
using Xunit.Abstractions;

namespace Pyralog.Silo.Tests.Partitions;

/// <summary>
/// A log of 3 partitions, RF 3, on three silo processes: one writer per partition appends continuously and a reader
/// reads from random replicas while the silo of some partition's leader is SIGKILLed at a random moment and restarted
/// on its data, 20 times, and once a silo comes back with its data directory wiped. Then every replica is read in full
/// and the whole history is checked (<see cref="PartitionHistory"/>). Seeded (<c>PYRALOG_TEST_SEED</c>): the kill moments,
/// the choice among the partitions' leaders and the batch sizes; where the cluster puts its leaders is its own timing.
/// Uses Redis membership when redis-server is installed, so any silo can be the victim; otherwise development
/// membership, whose primary (silo 0) is spared, which leaves only the leaders on silos 1 and 2 to kill.
/// </summary>
[Trait("Category", "Slow")]
public sealed class PartitionProcessClusterTests : IDisposable
{
    private const string LogName = "history";
    private const int Partitions = 3;
    private const int LeaderKills = 20;
    private const int WipeAfterKill = 10;
    private static readonly TimeSpan AppendTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(2);

    private readonly ITestOutputHelper _output;
    private readonly string _root = Directory.CreateTempSubdirectory("pyralog-partitions-").FullName;
    private readonly long _started = Stopwatch.GetTimestamp();

    public PartitionProcessClusterTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Every_acknowledged_append_survives_leader_kills_and_a_wiped_replica()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("PYRALOG_TEST_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) ? s : 20261130;
        Log($"seed {seed} (PYRALOG_TEST_SEED={seed} repeats the kill moments and choices; leader placement is the cluster's)");
        var random = new Random(seed);
        using var budget = new CancellationTokenSource(TimeSpan.FromMinutes(25));
        // Leader balancing every 2 s rather than 30: each restart leaves the restarted silo leading nothing, and the kills
        // need leaders on the silos they may kill.
        await using var cluster = await PartitionCluster.StartAsync(
            _root, preferRedis: true, Log, "--Pyralog:Replication:LeaderBalanceInterval", "00:00:02");
        var log = await cluster.CreateLogAsync(LogName, Partitions, 3, null, TimeSpan.FromMinutes(2));
        await cluster.WaitForLeadersAsync(LogName, allReplicas: true, TimeSpan.FromSeconds(60));

        var history = new PartitionHistory();
        var router = new LeaderRouter(cluster.Client.Replica, log);
        var lastAck = new long[Partitions];
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(budget.Token);
        var workers = Enumerable.Range(0, Partitions)
            .Select(p => Task.Run(() => WriteAsync(router, history, p, new Random(seed + 1 + p), lastAck, stop.Token)))
            .Append(Task.Run(() => ReadAsync(router, history, new Random(seed + 100), stop.Token)))
            .ToList();
        string? liveness = null;
        try
        {
            await WaitForAcksAfterAsync(lastAck, Stopwatch.GetTimestamp(), workers, "the first appends");
            var kills = 0;
            for (var round = 0; kills < LeaderKills; round++)
            {
                Assert.True(round < 3 * LeaderKills, $"only {kills} of {LeaderKills} leader kills in {round} rounds: no killable silo held a leader");
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(200, 1500)), budget.Token); // the random moment
                var description = await cluster.TryDescribeAsync(LogName);
                var candidates = description?.Partitions
                    .Select(p => (Partition: p.Partition, Silo: cluster.SiloOf(p.LeaderSilo ?? (p.LeaderReplica >= 0 ? p.Replicas[p.LeaderReplica].Silo : null))))
                    .Where(c => c.Silo is { } silo && cluster.CanKill(silo))
                    .ToList() ?? [];
                if (candidates.Count == 0)
                {
                    Log($"round {round}: no leader on a silo that may be killed ({(description is null ? "no description" : "leaders elsewhere")}); trying again");
                    continue;
                }

                var (partition, victim) = candidates[random.Next(candidates.Count)];
                kills++;
                var wipe = kills == WipeAfterKill;
                Log($"kill {kills}: SIGKILL silo {victim.GetValueOrDefault()}, leader of partition {partition}{(wipe ? "; it comes back with its data wiped" : "")}");
                await KillAndRestartAsync(cluster, victim.GetValueOrDefault(), wipe, lastAck, workers);
            }

            // Keep producing a little after the last restart: the cluster must still make progress.
            await WaitForAcksAfterAsync(lastAck, Stopwatch.GetTimestamp(), workers, "appends after the last restart");
        }
        catch (TimeoutException e)
        {
            // The cluster stopped making progress. Still check what it kept: a stall and a lost record are different findings.
            liveness = e.Message;
            Log($"LIVENESS: {e.Message}");
            Log($"every silo's output: {await cluster.SaveOutputAsync("partition-process-cluster")}");
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));
        }

        for (var silo = 0; silo < PartitionCluster.Size; silo++)
        {
            if (!cluster.IsRunning(silo))
            {
                await cluster.RestartAsync(silo, wipeData: false); // its replicas' data belongs in the final reads
            }
        }

        Log($"history: {history.Summary()}");
        var (finals, readFailures) = await FinalReadsAsync(router, TimeSpan.FromSeconds(90));
        var problems = history.Check(finals).Concat(readFailures).ToList();
        Log($"history check: {problems.Count} problems");
        Assert.True(liveness is null && problems.Count == 0,
            $"{(liveness is null ? "" : $"liveness: {liveness}\n")}{problems.Count} history problems:\n{string.Join('\n', problems)}");
        Assert.All(Enumerable.Range(0, Partitions), p => Assert.Contains(history.Appends, a => a.Partition == p && a.Outcome == AppendOutcome.Acknowledged));
    }

    private async Task KillAndRestartAsync(PartitionCluster cluster, int silo, bool wipe, long[] lastAck, List<Task> workers)
    {
        var killedAt = Stopwatch.GetTimestamp();
        cluster.Kill(silo);
        try
        {
            await WaitForAcksAfterAsync(lastAck, killedAt, workers, $"new leaders after silo {silo} was killed");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\n{await cluster.DescribeForDiagnosticsAsync(LogName)}", e);
        }

        Log($"  every partition acknowledged an append {Stopwatch.GetElapsedTime(killedAt).TotalMilliseconds:0} ms after the kill");
        await cluster.RestartAsync(silo, wipe);
        try
        {
            await cluster.WaitForLeadersAsync(LogName, allReplicas: true, TimeSpan.FromSeconds(wipe ? 120 : 60));
            // The metadata group too: its stand-in goes home after the log's replicas do, and until its leader counts the
            // home incarnation the stand-in's data (on the silo it left) holds a vote; a wipe of that silo in the window
            // would take two of the group's three voters, more than RF 3 survives.
            await cluster.WaitForMetadataGroupAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException e)
        {
            var moves = string.Join('\n', Enumerable.Range(0, PartitionCluster.Size).Where(cluster.IsRunning).Select(s =>
                $"silo {s} on replicas moving home:\n" + string.Join('\n', cluster.OutputTail(s, 2000).Split('\n')
                    .Where(l => l.Contains("home", StringComparison.Ordinal) || l.Contains("leadership", StringComparison.Ordinal) || l.Contains("Stopped", StringComparison.Ordinal))
                    .TakeLast(20)) +
                $"\nsilo {s} on the metadata group:\n" + string.Join('\n', cluster.OutputTail(s, 5000).Split('\n')
                    .Where(l => l.Contains("Replica 0/0/", StringComparison.Ordinal)).TakeLast(20)) +
                $"\nsilo {s}'s last lines:\n{cluster.OutputTail(s, 30)}"));
            throw new TimeoutException($"{e.Message}\nsilo {silo} said:\n{cluster.OutputTail(silo)}\n{moves}", e);
        }

        Log($"  silo {silo} back{(wipe ? " (wiped)" : "")}; all replicas and the metadata group lead or follow");
    }

    /// <summary>Waits (bounded) until every partition acknowledged an append that ended after <paramref name="since"/>.</summary>
    private static async Task WaitForAcksAfterAsync(long[] lastAck, long since, List<Task> workers, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        while (!Enumerable.Range(0, lastAck.Length).All(p => Volatile.Read(ref lastAck[p]) > since))
        {
            if (workers.FirstOrDefault(w => w.IsFaulted) is { } failed)
            {
                await failed; // surfaces the worker's exception
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                var late = Enumerable.Range(0, lastAck.Length).Where(p => Volatile.Read(ref lastAck[p]) <= since);
                throw new TimeoutException($"waiting for {what}: partitions {string.Join(", ", late)} acknowledged nothing for 30 s");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
    }

    /// <summary>
    /// Appends batches of 1-4 unique values (<c>p{partition}-w{partition}-{seq}</c>) to the believed leader, one at a
    /// time, recording every attempt; an attempt of unknown outcome is never retried with the same values.
    /// </summary>
    private static async Task WriteAsync(LeaderRouter router, PartitionHistory history, int partition, Random random, long[] lastAck, CancellationToken stop)
    {
        long sequence = 0;
        while (!stop.IsCancellationRequested)
        {
            var values = new string[random.Next(1, 5)];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = $"p{partition}-w{partition}-{sequence++}";
            }

            var records = values.Select(v => new ProducerRecord(null, Encoding.UTF8.GetBytes(v))).ToArray();
            var attempt = await router.TryAppendAsync(partition, records, AppendTimeout);
            history.RecordAppend(new AppendEvent(partition, attempt.Replica, values, attempt.Outcome, attempt.Ack));
            if (attempt.Outcome == AppendOutcome.Acknowledged)
            {
                Volatile.Write(ref lastAck[partition], attempt.EndedAt);
            }
            else if (attempt.Error is ArgumentException e)
            {
                throw new InvalidOperationException($"partition {partition} refused a valid batch", e);
            }
            else if (!attempt.Redirected)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10), CancellationToken.None); // an election runs or a silo is gone: do not spin
            }
        }
    }

    /// <summary>Reads short ranges from random replicas (non-linearizable: whatever each has applied), recording what each read showed.</summary>
    private static async Task ReadAsync(LeaderRouter router, PartitionHistory history, Random random, CancellationToken stop)
    {
        var known = new ulong[Partitions];
        while (!stop.IsCancellationRequested)
        {
            var partition = random.Next(Partitions);
            var replica = random.Next(router.Log.ReplicationFactor);
            var from = (ulong)random.NextInt64((long)known[partition] + 1);
            try
            {
                var batch = await router.Replica(partition, replica).ReadAsync(from, 2048).WaitAsync(ReadTimeout, stop);
                known[partition] = Math.Max(known[partition], batch.CommittedNext);
                history.RecordRead(new ReadEvent(partition, router.Log.ReplicaKey(partition, replica), [.. batch.Records.Select(ObservedRecord.From)]));
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A lagging replica, a dead silo, a leaderless metadata group, an activation in the middle of recovery:
                // reads only record what succeeded.
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), CancellationToken.None);
        }
    }

    /// <summary>
    /// Waits (bounded) until the replicas of each partition report the same committed end, then reads each replica in
    /// full from its first retained offset.
    /// </summary>
    private async Task<(Dictionary<int, IReadOnlyDictionary<string, IReadOnlyList<ObservedRecord>>> Finals, List<string> Failures)> FinalReadsAsync(
        LeaderRouter router, TimeSpan timeout)
    {
        var log = router.Log;
        var watch = Stopwatch.StartNew();
        var finals = new Dictionary<int, IReadOnlyDictionary<string, IReadOnlyList<ObservedRecord>>>();
        var failures = new List<string>();
        for (var partition = 0; partition < log.Partitions; partition++)
        {
            ReplicaStatus[] statuses = [];
            while (true)
            {
                try
                {
                    statuses = await Task.WhenAll(Enumerable.Range(0, log.ReplicationFactor)
                        .Select(r => router.Replica(partition, r).GetStatusAsync().WaitAsync(ReadTimeout)));
                    if (statuses.All(s => s.NextOffset == statuses[0].NextOffset && s.Role is ReplicaRole.Leader or ReplicaRole.Follower))
                    {
                        break;
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // asked again below (a dead silo, a replica still activating)
                }

                if (watch.Elapsed > timeout)
                {
                    Log($"partition {partition}: replicas did not converge within {timeout.TotalSeconds:0} s " +
                        $"({string.Join(", ", statuses.Select(s => $"{s.Key} {s.Role} next {s.NextOffset}"))}); reading them as they are");
                    break;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(100));
            }

            var replicas = new Dictionary<string, IReadOnlyList<ObservedRecord>>();
            for (var replica = 0; replica < log.ReplicationFactor; replica++)
            {
                var key = log.ReplicaKey(partition, replica);
                try
                {
                    replicas[key] = await ReadAllAsync(router.Replica(partition, replica));
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    failures.Add($"[final] replica {key} could not be read in full: {e.GetType().Name}: {e.Message}");
                }
            }

            Log($"partition {partition}: final reads hold {string.Join(", ", replicas.Select(r => $"{r.Key}: {r.Value.Count}"))} records");
            finals[partition] = replicas;
        }

        return (finals, failures);
    }

    private static async Task<IReadOnlyList<ObservedRecord>> ReadAllAsync(IPartitionReplicaGrain replica)
    {
        var status = await replica.GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var records = new List<ObservedRecord>();
        var next = status.FirstOffset;
        while (next < status.NextOffset)
        {
            var batch = await replica.ReadAsync(next, 1 << 20).WaitAsync(TimeSpan.FromSeconds(30));
            if (batch.Records.Length == 0)
            {
                break;
            }

            records.AddRange(batch.Records.Select(ObservedRecord.From));
            next = batch.NextOffset;
        }

        return records;
    }

    private void Log(string line)
    {
        var text = $"[{Stopwatch.GetElapsedTime(_started).TotalSeconds,7:0.0}s] {line}";
        try
        {
            _output.WriteLine(text);
        }
        catch (InvalidOperationException)
        {
            // the test already ended (a late log line from a background task)
        }

        Console.WriteLine(text);
    }
}
