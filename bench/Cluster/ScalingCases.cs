using System.Diagnostics;
using System.Globalization;
using Pyralog.Bench.Harness;
using Pyralog.Client;
using Pyralog.Client.Cluster;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Silo.Tests.Partitions;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// Replica moves under a steady producer, on one cluster of Pyralog.Silo processes on 127.0.0.1
/// (<see cref="PartitionCluster"/>, which can add silos): three silos, one log of <see cref="Partitions"/> partitions
/// at RF 3 filled with <see cref="ScaleBytes"/> of records (1 GiB; <c>PYRALOG_BENCH_SCALE_BYTES</c>, e.g. <c>64M</c>, for a smoke run), and a
/// producer of <see cref="SteadyRate"/> records/s across its partitions the whole time.
/// <list type="bullet">
/// <item><c>scale-out</c>: a fourth silo starts; <c>s</c> from its start until every active silo hosts within one
/// replica of the others (cluster status) with no move under way (every partition back to RF slots), the replicas that
/// moved, and the producer's p99 during that window against the <see cref="Before"/> before it.</item>
/// <item><c>drain</c>: then one of the first three silos is drained (<c>pyralog cluster drain</c>); <c>s</c> from the
/// call until cluster status shows it hosting no replica with no move under way, the replicas it gave away, the
/// leadership hand-off (the call itself), and the producer's p99 during it against the window before it.</item>
/// </list>
/// Both then wait for leader balancing: <c>s balanced</c> from the same start until cluster status is balanced
/// (replicas and leaders within one of the mean on every serving silo, a drained silo holding nothing), and the
/// producer's p99 in that second window ("leaders").
/// <c>drain</c> alone scales out first, unmeasured (RF 3 needs a fourth silo to drain one).
/// </summary>
internal static class ScalingCases
{
    public const string ScaleOut = "scale-out";
    public const string Drain = "drain";

    public const int Partitions = 100;
    private const int ReplicationFactor = 3;
    private const string LogName = "scaling";

    /// <summary>Fill records: 1 KiB values, so a gigabyte is a million records rather than ten.</summary>
    private const int FillRecordBytes = 1024;

    /// <summary>Fill records sent to one partition in a row, so the fill producer's batches are large.</summary>
    private const int FillRun = 64;

    /// <summary>Fill records awaiting acknowledgement at most (16 MiB).</summary>
    private const int FillOutstanding = 16_384;

    /// <summary>
    /// The steady producer's rate: 10 records/s per partition, 100 KB/s, well under 1 % of what these silos take
    /// (<c>produce-100B-window</c>), so its latency shows the cost of a move and not a queue of its own.
    /// </summary>
    public const int SteadyRate = 1000;

    /// <summary>
    /// What the silos run with, as an operator who wants a scale-out done quickly would set it: the mover looks every
    /// second (default 5 s; it starts the next move as soon as one ends anyway, so this only shortens the wait for the
    /// first round after the silo joins or the drain starts) and runs 4 moves at a time (default 2): each move copies
    /// one partition's data through its leader, and on 2 cores twice the default still leaves CPU for producers.
    /// <c>PYRALOG_BENCH_REPLICA_MOVES</c> sets another number for comparison.
    /// </summary>
    private static string[] SiloArgs =>
    [
        .. ClusterSettings.SiloArgs,
        "--Pyralog:Replication:ReplicaMoveInterval", "00:00:01",
        "--Pyralog:Replication:ReplicaMoves", ReplicaMoves.ToString(CultureInfo.InvariantCulture),
    ];

    private static int ReplicaMoves =>
        int.TryParse(Environment.GetEnvironmentVariable("PYRALOG_BENCH_REPLICA_MOVES"), CultureInfo.InvariantCulture, out var moves) && moves > 0 ? moves : 4;

    /// <summary>Bytes of record values the log is filled with: <c>PYRALOG_BENCH_SCALE_BYTES</c> (bytes, or with a K, M or G suffix, binary), 1 GiB by default.</summary>
    public static long ScaleBytes => BenchSizes.Parse(Environment.GetEnvironmentVariable("PYRALOG_BENCH_SCALE_BYTES"), 1L << 30);

    /// <summary>How long the producer's latency is taken before each move window.</summary>
    private static TimeSpan Before => ClusterSettings.Quick ? TimeSpan.FromSeconds(3) : TimeSpan.FromSeconds(10);

    /// <summary>Steady producing before the first measured window.</summary>
    private static TimeSpan Settle => ClusterSettings.Quick ? TimeSpan.FromSeconds(2) : TimeSpan.FromSeconds(10);

    /// <summary>How long a window's last records may take to be acknowledged or fail (the producer's delivery timeout is 2 minutes).</summary>
    private static readonly TimeSpan SettleRecords = TimeSpan.FromMinutes(2.5);

    /// <summary>Upper bound on a scale-out or a drain (each move copies a partition's data: about 10 MiB at 1 GiB).</summary>
    private static readonly TimeSpan SettleBudget = TimeSpan.FromMinutes(30);

    /// <summary>
    /// How often cluster status is read while waiting (each read describes every replica: 300 calls), also during the
    /// window before, so both windows carry the same observer.
    /// </summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    public static bool AnySelected => BenchSelection.Case(ScaleOut) || BenchSelection.Case(Drain);

    public static async Task RunAsync(BenchReport report, string root, CancellationToken cancellationToken)
    {
        ClusterSettings.Log($"scaling: {Partitions} partitions at RF {ReplicationFactor}, filled with {ScaleBytes / (1024.0 * 1024):N0} MiB, steady producer {SteadyRate:N0} records/s, {ReplicaMoves} moves at a time");
        await using var cluster = await PartitionCluster.StartAsync(root, preferRedis: true, ClusterSettings.Log, SiloArgs);
        var client = cluster.Client;
        await CreateLogAsync(client, cancellationToken);
        try
        {
            await FillAsync(client, cancellationToken);
        }
        catch (InvalidOperationException)
        {
            ClusterSettings.Log($"scaling: the silos' output is in {await cluster.SaveOutputAsync("scaling-fill")}");
            throw;
        }

        await using var steady = new SteadyProducer(client, LogName, Partitions, SteadyRate);
        // Unmeasured: the producer's first records compile its path and find every leader, and the silos finish
        // compiling theirs after the fill (in a first smoke run the window right after 2 s had twice the p99 of the move's).
        await ObserveAsync(client, Settle, cancellationToken);
        if (BenchSelection.Case(ScaleOut))
        {
            await ClusterReport.RunCaseAsync(report, ScaleOut, PyralogCases.System, () => ScaleOutAsync(report, cluster, steady, cancellationToken));
        }
        else if (BenchSelection.Case(Drain))
        {
            ClusterSettings.Log("scaling: a fourth silo joins before the drain (not measured)");
            var silo = await cluster.AddSiloAsync();
            await WaitAsync(client, s => s.ActiveSilos == cluster.Count && s.Spread <= 1, $"silo {silo} holds its share", cancellationToken);
        }

        await ClusterReport.RunCaseAsync(report, Drain, PyralogCases.System, () => DrainAsync(report, cluster, steady, cancellationToken));
        ClusterSettings.Log($"scaling: the silos' output is in {await cluster.SaveOutputAsync("scaling", stacks: false)}");
    }

    private static async Task ScaleOutAsync(BenchReport report, PartitionCluster cluster, SteadyProducer steady, CancellationToken cancellationToken)
    {
        var client = cluster.Client;
        var before = steady.Begin("before");
        await ObserveAsync(client, Before, cancellationToken);
        var placed = Placement(await client.DescribeLogAsync(LogName));
        var during = steady.Begin("during");
        var watch = Stopwatch.StartNew();
        var silo = await cluster.AddSiloAsync();
        ClusterSettings.Log($"scale-out: silo {silo} ({cluster.Endpoint(silo)}) up in {watch.Elapsed.TotalSeconds:0.0} s; waiting for its share of replicas");
        var settled = await WaitAsync(client, s => s.ActiveSilos == cluster.Count && s.Spread <= 1, "replicas within one per active silo", cancellationToken);
        var elapsed = watch.Elapsed;
        var leaders = steady.Begin("leaders");
        var moved = Placement(await client.DescribeLogAsync(LogName)).Except(placed).Count();
        ClusterSettings.Log($"scale-out: settled in {elapsed.TotalSeconds:0.0} s, {moved} replicas moved; {settled.Describe()}");
        await BalanceAsync(report, ScaleOut, client, steady, watch, leaders, cancellationToken);
        await ReportAsync(report, ScaleOut, elapsed, moved, before, during, cancellationToken);
    }

    private static async Task DrainAsync(BenchReport report, PartitionCluster cluster, SteadyProducer steady, CancellationToken cancellationToken)
    {
        var client = cluster.Client;
        // Silo 1: one of the first three (not development membership's primary), holding its share after the scale-out.
        const int drained = 1;
        var before = steady.Begin("before");
        await ObserveAsync(client, Before, cancellationToken);
        var hosted = (await client.GetClusterStatusAsync()).Silos.Where(s => cluster.SiloOf(s.Address) == drained).Sum(s => s.Replicas);
        var during = steady.Begin("during");
        var watch = Stopwatch.StartNew();
        var result = await client.DrainSiloAsync(cluster.Endpoint(drained));
        var handOff = watch.Elapsed;
        ClusterSettings.Log($"drain: silo {drained} ({result.Silo}) handed off {result.Led} leaderships in {handOff.TotalSeconds:0.0} s, still leads {result.StillLeading}, {result.Replicas} replicas to move");
        var settled = await WaitAsync(client, s => s.ReplicasOn(cluster, drained) == 0, $"silo {drained} hosts no replica", cancellationToken);
        var elapsed = watch.Elapsed;
        var leaders = steady.Begin("leaders");
        ClusterSettings.Log($"drain: settled in {elapsed.TotalSeconds:0.0} s; {settled.Describe()}");
        await BalanceAsync(report, Drain, client, steady, watch, leaders, cancellationToken);
        await ReportAsync(report, Drain, elapsed, hosted, before, during, cancellationToken);
        report.Add(ClusterSettings.Suite, Drain, PyralogCases.System, "hand-off s", handOff.TotalSeconds, "s");
    }

    /// <summary>
    /// Waits until cluster status is balanced (leaders too), then reports <c>s balanced</c> (by <paramref name="watch"/>)
    /// and the producer's latency in <paramref name="window"/>, which ends there.
    /// </summary>
    private static async Task BalanceAsync(BenchReport report, string @case, PyralogClient client, SteadyProducer steady, Stopwatch watch, ProducerWindow window, CancellationToken cancellationToken)
    {
        var balanced = await WaitAsync(client, s => s.Status.Balanced, "replicas and leaders within one of the mean", cancellationToken);
        var elapsed = watch.Elapsed;
        steady.End();
        ClusterSettings.Log($"{@case}: balanced in {elapsed.TotalSeconds:0.0} s; {balanced.Describe()}");
        report.Add(ClusterSettings.Suite, @case, PyralogCases.System, "s balanced", elapsed.TotalSeconds, "s");
        if (!await window.SettleAsync(SettleRecords, cancellationToken))
        {
            report.Add(ClusterSettings.Suite, @case, PyralogCases.System, $"unacknowledged {window.Name}", window.Unsettled, "records");
        }

        if (window.Latencies.Count > 0)
        {
            report.Add(ClusterSettings.Suite, @case, PyralogCases.System, $"p99 us {window.Name}", window.Latencies.PercentileMicros(99), "us");
            report.Add(ClusterSettings.Suite, @case, PyralogCases.System, $"max us {window.Name}", window.Latencies.PercentileMicros(100), "us");
        }

        if (window.Failed > 0)
        {
            report.Add(ClusterSettings.Suite, @case, PyralogCases.System, $"failed {window.Name}", window.Failed, "records");
            ClusterSettings.Log($"{@case}: {window.Failed} records of the window '{window.Name}' failed; first: {window.FirstError}");
        }
    }

    private static async Task ReportAsync(BenchReport report, string @case, TimeSpan elapsed, int moved, ProducerWindow before, ProducerWindow during, CancellationToken cancellationToken)
    {
        var system = PyralogCases.System;
        foreach (var window in new[] { before, during })
        {
            if (!await window.SettleAsync(SettleRecords, cancellationToken))
            {
                ClusterSettings.Log($"{@case}: {window.Unsettled} records of the window '{window.Name}' still unacknowledged after {SettleRecords.TotalSeconds:0} s");
                report.Add(ClusterSettings.Suite, @case, system, $"unacknowledged {window.Name}", window.Unsettled, "records");
            }
        }

        report.Add(ClusterSettings.Suite, @case, system, "s", elapsed.TotalSeconds, "s");
        report.Add(ClusterSettings.Suite, @case, system, "moved replicas", moved, "replicas");
        foreach (var window in new[] { before, during })
        {
            if (window.Latencies.Count == 0)
            {
                ClusterSettings.Log($"{@case}: no record of the window '{window.Name}' was acknowledged");
                continue;
            }

            report.Add(ClusterSettings.Suite, @case, system, $"p50 us {window.Name}", window.Latencies.PercentileMicros(50), "us");
            report.Add(ClusterSettings.Suite, @case, system, $"p99 us {window.Name}", window.Latencies.PercentileMicros(99), "us");
        }

        if (during.Latencies.Count > 0)
        {
            report.Add(ClusterSettings.Suite, @case, system, "max us during", during.Latencies.PercentileMicros(100), "us");
            report.Add(ClusterSettings.Suite, @case, system, "records during", during.Latencies.Count, "records");
        }

        foreach (var window in new[] { before, during })
        {
            if (window.Failed > 0)
            {
                report.Add(ClusterSettings.Suite, @case, system, $"failed {window.Name}", window.Failed, "records");
                ClusterSettings.Log($"{@case}: {window.Failed} records of the window '{window.Name}' failed; first: {window.FirstError}");
            }
        }
    }

    /// <summary>
    /// Polls cluster status and the log's slots until <paramref name="done"/> holds with every replica counted and no
    /// move under way (every partition has exactly RF slots: a running move has one more); returns that state.
    /// </summary>
    private static async Task<ScalingState> WaitAsync(PyralogClient client, Func<ScalingState, bool> done, string what, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var lastLog = TimeSpan.Zero;
        var last = "no status yet";
        while (watch.Elapsed < SettleBudget)
        {
            try
            {
                var state = await ReadStateAsync(client, cancellationToken);
                if (state.Counted == Partitions * ReplicationFactor && state.MovesUnderWay == 0 && done(state))
                {
                    return state;
                }

                last = state.Describe();
            }
            catch (Exception e) when (e is TimeoutException or OrleansException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
            {
                last = $"{e.GetType().Name}: {e.Message}";
            }

            if (watch.Elapsed - lastLog >= TimeSpan.FromSeconds(10))
            {
                lastLog = watch.Elapsed;
                ClusterSettings.Log($"  waiting for {what} ({watch.Elapsed.TotalSeconds:0} s): {last}");
            }

            await Task.Delay(PollInterval, cancellationToken);
        }

        throw new TimeoutException($"not {what} within {SettleBudget.TotalMinutes:0} minutes: {last}");
    }

    /// <summary>Reads the state as <see cref="WaitAsync"/> does, for <paramref name="duration"/>, without waiting for anything.</summary>
    private static async Task ObserveAsync(PyralogClient client, TimeSpan duration, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < duration)
        {
            try
            {
                _ = await ReadStateAsync(client, cancellationToken);
            }
            catch (Exception e) when (e is TimeoutException or OrleansException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
            {
                ClusterSettings.Log($"  cluster status failed: {e.GetType().Name}: {e.Message}");
            }

            await Task.Delay(PollInterval, cancellationToken);
        }
    }

    private static async Task<ScalingState> ReadStateAsync(PyralogClient client, CancellationToken cancellationToken)
    {
        var status = await client.GetClusterStatusAsync().WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        var log = await client.Cluster.GetGrain<IPyralogAdminGrain>(0).GetLogAsync(LogName).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken)
            ?? throw new InvalidOperationException($"log '{LogName}' is gone");
        return new ScalingState(status, Enumerable.Range(0, log.Partitions).Count(p => log.ReplicaSlots(p).Length != log.ReplicationFactor));
    }

    /// <summary>Where each partition's replicas run: (partition, silo address) pairs.</summary>
    private static HashSet<(int Partition, string Silo)> Placement(LogDescription description) =>
        [.. description.Partitions.SelectMany(p => p.Replicas.Select(r => (p.Partition, r.Silo)))];

    private static async Task CreateLogAsync(PyralogClient client, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var last = "not created yet";
        while (true)
        {
            // Asked again until every partition leads: right after start-up the metadata group may still elect its
            // leader, and creating a log that exists with the same shape finishes it.
            try
            {
                await client.CreateLogAsync(LogName, Partitions, ReplicationFactor, new LogSettings()).WaitAsync(TimeSpan.FromMinutes(1), cancellationToken);
                var description = await client.DescribeLogAsync(LogName).WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
                var waiting = description.Partitions.Count(p => p.LeaderReplica < 0 || p.Replicas.Any(r => r.Error is not null || r.Role is not (ReplicaRole.Leader or ReplicaRole.Follower)));
                if (waiting == 0)
                {
                    break;
                }

                last = $"{waiting} partitions without a leader or with a replica neither leading nor following";
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                last = $"{e.GetType().Name}: {e.Message}";
            }

            if (watch.Elapsed > TimeSpan.FromMinutes(3))
            {
                throw new TimeoutException($"log '{LogName}' not ready after {watch.Elapsed.TotalSeconds:0} s: {last}");
            }

            await Task.Delay(PollInterval, cancellationToken);
        }

        ClusterSettings.Log($"scaling: log '{LogName}' ({Partitions} partitions, RF {ReplicationFactor}, {new LogSettings().Durability}) ready in {watch.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>Produces <see cref="ScaleBytes"/> of 1 KiB records, the same number to every partition, as fast as the cluster takes them.</summary>
    private static async Task FillAsync(PyralogClient client, CancellationToken cancellationToken)
    {
        var records = Math.Max(Partitions, ScaleBytes / FillRecordBytes);
        var value = new byte[FillRecordBytes];
        new Random(ClusterSettings.Seed).NextBytes(value);
        var record = new ProducerRecord(null, value);
        var watch = Stopwatch.StartNew();
        long failed = 0, acknowledged = 0;
        Exception? firstError = null;
        Exception? cause = null; // the first failure that is not only a consequence of an earlier batch's
        var kinds = new System.Collections.Concurrent.ConcurrentDictionary<string, long>(); // each distinct failure, counted
        using var outstanding = new SemaphoreSlim(FillOutstanding);
        await using (var producer = client.CreateProducer(new ProducerOptions { Linger = TimeSpan.FromMilliseconds(10) }))
        {
            for (long i = 0; i < records; i++)
            {
                await outstanding.WaitAsync(cancellationToken);
                var partition = (int)(i / FillRun % Partitions);
                _ = producer.ProduceAsync(LogName, partition, record, cancellationToken).ContinueWith(
                    produced =>
                    {
                        if (produced.IsCompletedSuccessfully)
                        {
                            Interlocked.Increment(ref acknowledged);
                        }
                        else
                        {
                            var error = produced.Exception?.InnerException;
                            Interlocked.CompareExchange(ref firstError, error, null);
                            if (kinds.Count < 20 || kinds.ContainsKey(error?.Message ?? ""))
                            {
                                kinds.AddOrUpdate(error?.Message ?? "", 1, static (_, n) => n + 1);
                            }

                            if (error?.Message.Contains("an earlier batch of this partition failed", StringComparison.Ordinal) == false)
                            {
                                Interlocked.CompareExchange(ref cause, error, null);
                            }

                            Interlocked.Increment(ref failed);
                        }

                        outstanding.Release();
                    },
                    CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                if ((i + 1) % (records / 10 + 1) == 0)
                {
                    ClusterSettings.Log($"scaling: fill sent {(i + 1) * FillRecordBytes / (1024.0 * 1024):N0} MiB, {Interlocked.Read(ref acknowledged) * FillRecordBytes / (1024.0 * 1024):N0} MiB acknowledged, in {watch.Elapsed.TotalSeconds:0} s");
                }
            }

            await producer.FlushAsync(cancellationToken);
        }

        // Every continuation has released its slot once the producer is flushed and closed.
        for (var i = 0; i < FillOutstanding; i++)
        {
            await outstanding.WaitAsync(cancellationToken);
        }

        if (failed > 0)
        {
            var reported = cause ?? firstError;
            foreach (var (message, count) in kinds)
            {
                ClusterSettings.Log($"scaling: fill failure ×{count}: {message}");
            }

            throw new InvalidOperationException($"{failed} fill records were not acknowledged; cause: {reported?.GetType().Name}: {reported?.Message}", reported);
        }

        var mib = records * FillRecordBytes / (1024.0 * 1024);
        ClusterSettings.Log($"scaling: filled {mib:N0} MiB ({records:N0} records of {FillRecordBytes} B, {mib / watch.Elapsed.TotalSeconds:N0} MiB/s) in {watch.Elapsed.TotalSeconds:0.0} s");
    }
}
