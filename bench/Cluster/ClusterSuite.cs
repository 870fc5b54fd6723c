using Pyralog.Bench.Harness;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// Pyralog beside NATS JetStream and etcd, three processes each on 127.0.0.1, in one run (issue 11):
/// <list type="bullet">
/// <item><c>produce-100B-window</c>: records/s, p50 and p99 (call to acknowledgement) with 1,000 records in flight
/// (<see cref="ClusterSettings.Window"/>: 1,000 loops, each awaiting its record before sending the next), 15 s warm-up,
/// 10 s measured.</item>
/// <item><c>produce-100B-sync</c>: one record in flight: p50, p99 over 5 s.</item>
/// <item><c>consume-100B</c>: records/s reading back everything the system holds (what the produce cases wrote), about
/// 1,000 records per read, one read in flight.</item>
/// <item><c>failover</c>: unavailability seen by a producer with one record in flight (250 ms per attempt, a failed
/// attempt goes to another server) when the leader's process is SIGKILLed: kill to first acknowledgement of an attempt
/// started after it; p50 and max over 5 trials (1 with <c>PYRALOG_BENCH_QUICK=1</c>); the killed process restarts on its
/// data and the system is healthy again between trials.</item>
/// <item><c>scale-out</c> and <c>drain</c> (Pyralog only, <see cref="ScalingCases"/>): replica moves onto a fourth silo
/// and off a drained one under a steady producer, on a log of 100 partitions filled with 1 GiB
/// (<c>PYRALOG_BENCH_SCALE_BYTES</c> for less).</item>
/// </list>
/// Pyralog runs each case in both durabilities (suffix <c>-fsync</c>, <c>-os-cache</c>); <c>system</c> is
/// <c>pyralog</c>, <c>jetstream</c> or <c>etcd</c>. A peer whose server binary (<c>nats-server</c>, <c>etcd</c>) is not on
/// PATH is skipped with a note. Every process the suite starts is killed at its end, on failure and on Ctrl-C.
/// <para>
/// Fairness: one machine, one run, the same 100 B records, the same window and driver (<see cref="LoadDriver"/>) for
/// every system, every client driving the leader directly. The systems run one after another, never side by side, but
/// each system's three servers, the bench process (client and load generator) and the machine's other tenants share the
/// same cores: on a 2-core machine the client competes with the servers, which penalises the system that needs the most
/// client CPU per record. JetStream 2.9 acknowledges a publish once a majority hold it in memory (it syncs files every
/// 2 minutes by default), so compare it with Pyralog's <c>-os-cache</c> figures; etcd acknowledges a put only after a
/// majority fsynced its WAL, so compare it with Pyralog's <c>-fsync</c> figures. JetStream publishes carry no message id
/// in the produce cases (no deduplication), while Pyralog's producer is idempotent in every case; etcd writes one key per
/// record (a key-value store has no append), with its MVCC and index costs. Failover: each system keeps its default
/// timing (etcd: election timeout 1 s; JetStream 2.9: its Raft elections wait 2 to 5 s; Pyralog: the silo's defaults as
/// <c>PartitionCluster</c> starts it, with a 3 s failure detection).
/// </para>
/// <para>
/// Switches: <c>PYRALOG_BENCH_QUICK=1</c> (a check that it runs, not figures), <c>PYRALOG_BENCH_CASES</c> (case name
/// prefixes), <c>PYRALOG_BENCH_SYSTEMS</c> (pyralog, jetstream, etcd), <c>PYRALOG_BENCH_PATH=grains</c> (Pyralog through the
/// grain interfaces instead of the client library).
/// </para>
/// </summary>
public sealed class ClusterSuite : IBenchSuite
{
    public string Name => ClusterSettings.Suite;

    public string Description => "Pyralog beside NATS JetStream and etcd (3 processes each, RF 3): produce (window 1,000 / sync), consume, SIGKILL failover";

    public async Task RunAsync(BenchReport report, CancellationToken cancellationToken)
    {
        using var interrupted = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // The first Ctrl-C stops the run through its finally blocks (which kill every process started); a second one ends it at once.
            if (!interrupted.IsCancellationRequested)
            {
                e.Cancel = true;
                ClusterSettings.Log("interrupted: stopping the processes started");
                interrupted.Cancel();
            }
            else
            {
                PeerProcess.KillAll();
            }
        };
        Console.CancelKeyPress += onCancel;
        var root = Directory.CreateTempSubdirectory("pyralog-bench-cluster-").FullName;
        ClusterSettings.Log($"window {ClusterSettings.Window:N0} records, {ClusterSettings.RecordBytes} B records, measured {ClusterSettings.WindowMeasure.TotalSeconds:0} s (window) / {ClusterSettings.SyncMeasure.TotalSeconds:0} s (sync), {ClusterSettings.FailoverTrials} failover trial(s){(ClusterSettings.Quick ? " (quick mode: not figures to report)" : "")}");
        try
        {
            var token = interrupted.Token;
            if (BenchSelection.System(PyralogCases.System) && AnySelected(PyralogCases.Durabilities.SelectMany(d => Cases.Select(c => c + d.Suffix))))
            {
                await PyralogCases.RunAsync(report, Path.Combine(root, "pyralog"), token);
            }

            if (BenchSelection.System(PyralogCases.System) && BenchSelection.Case(MetricsOverheadCases.Case))
            {
                await ClusterReport.RunCaseAsync(report, MetricsOverheadCases.Case, PyralogCases.System,
                    () => MetricsOverheadCases.RunAsync(report, Path.Combine(root, "metrics"), token));
            }

            if (BenchSelection.System(PyralogCases.System) && ScalingCases.AnySelected)
            {
                await ScalingCases.RunAsync(report, Path.Combine(root, "scaling"), token);
            }

            if (AnySelected(Cases))
            {
                if (!BenchSelection.System(JetStreamCases.System))
                {
                }
                else if (PeerProcess.Find(NatsCluster.Binary) is { } nats)
                {
                    await JetStreamCases.RunAsync(report, Path.Combine(root, "jetstream"), nats, token);
                }
                else
                {
                    ClusterSettings.Log($"{NatsCluster.Binary} is not on PATH: JetStream skipped (apt-get install nats-server)");
                }

                if (!BenchSelection.System(EtcdCases.System))
                {
                }
                else if (PeerProcess.Find(EtcdCluster.Binary) is { } etcd)
                {
                    await EtcdCases.RunAsync(report, Path.Combine(root, "etcd"), etcd, token);
                }
                else
                {
                    ClusterSettings.Log($"{EtcdCluster.Binary} is not on PATH: etcd skipped (apt-get install etcd-server)");
                }
            }

            PrintTargets(report);
        }
        catch (OperationCanceledException) when (interrupted.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            ClusterSettings.Log("interrupted: the figures so far are reported; targets not judged");
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            PeerProcess.KillAll();
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException e)
            {
                ClusterSettings.Log($"could not delete {root}: {e.Message}");
            }
        }
    }

    private static readonly string[] Cases = ["produce-100B-window", "produce-100B-sync", "consume-100B", "failover"];

    private static bool AnySelected(IEnumerable<string> cases) => cases.Any(BenchSelection.Case);

    /// <summary>The comparisons issue 11 sets, judged once every system ran.</summary>
    private static void PrintTargets(BenchReport report)
    {
        Console.WriteLine("  cluster targets:");
        ClusterReport.Target(report, "produce-100B-window-os-cache >= 10x JetStream records/s", "produce-100B-window-os-cache", JetStreamCases.System, "produce-100B-window", "records/s",
            (ours, theirs) => ours >= 10 * theirs);
        ClusterReport.Target(report, "produce-100B-window-os-cache p99 <= JetStream's", "produce-100B-window-os-cache", JetStreamCases.System, "produce-100B-window", "p99 us",
            (ours, theirs) => ours <= theirs);
        ClusterReport.Target(report, "produce-100B-window-fsync >= 10x etcd records/s", "produce-100B-window-fsync", EtcdCases.System, "produce-100B-window", "records/s",
            (ours, theirs) => ours >= 10 * theirs);
        ClusterReport.Target(report, "produce-100B-sync-fsync p50 <= etcd's", "produce-100B-sync-fsync", EtcdCases.System, "produce-100B-sync", "p50 us",
            (ours, theirs) => ours <= theirs);
        foreach (var (suffix, _) in PyralogCases.Durabilities)
        {
            var @case = "failover" + suffix;
            var met = ClusterReport.FailoverMet(report, @case, PyralogCases.System);
            var max = ClusterReport.Find(report, @case, PyralogCases.System, "max ms")?.Value;
            var failed = ClusterReport.Find(report, @case, PyralogCases.System, "failed trials")?.Value ?? 0;
            Console.WriteLine(met is null
                ? $"    target {@case} max <= 1,000 ms: not judged (no trial)"
                : $"    target {@case} max <= 1,000 ms over {ClusterSettings.FailoverTrials} trials: {(met.Value ? "met" : "MISSED")} (max {max ?? double.NaN:0} ms, {failed:0} failed)");
        }
    }
}
