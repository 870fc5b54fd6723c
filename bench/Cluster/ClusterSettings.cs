using System.Globalization;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// The knobs of the <c>cluster</c> suite, the same for every system: record size, window, how long each case runs,
/// failover trials. <c>PYRALOG_BENCH_QUICK=1</c> shortens every case (a check that the suite runs end to end, not a
/// figure); <c>PYRALOG_BENCH_CASES=a,b</c> runs only the cases whose names start with one of the prefixes; <c>PYRALOG_BENCH_SYSTEMS=pyralog,jetstream,etcd</c>
/// runs only the systems named.
/// </summary>
internal static class ClusterSettings
{
    public const string Suite = "cluster";
    public const int Seed = 1130;

    /// <summary>Every record is 100 bytes of payload (no key), for every system.</summary>
    public const int RecordBytes = 100;

    /// <summary>Records in flight in the <c>produce-100B-window</c> cases, for every system.</summary>
    public const int Window = 1000;

    /// <summary>Records per read in the <c>consume-100B</c> cases (JetStream batch, etcd page; Pyralog reads this many bytes' worth).</summary>
    public const int ReadPage = 1000;

    /// <summary>Per-attempt timeout of the failover producer: an attempt not acknowledged by then is tried at another server.</summary>
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// What every benchmark silo gets on its command line: no dashboards (the Orleans dashboard profiles every grain
    /// call and polls every silo each second; the benchmarks measure Pyralog, with metrics on as shipped).
    /// </summary>
    public static readonly string[] SiloArgs = ["--Silo:Dashboard", "false"];

    public static bool Quick { get; } = Environment.GetEnvironmentVariable("PYRALOG_BENCH_QUICK") is "1" or "true";

    /// <summary>
    /// Load before each cluster-suite case is measured: 15 s (the partition suite uses <see cref="SteadyWarmup"/>). A
    /// silo process's JIT tiers its hot methods up during the first seconds of load (3,527 methods compiled in 6 s once
    /// load began, the tier-up thread taking 40 % of a silo's CPU): after 2 s the first case measured 131,507 records/s,
    /// after 20 s 310,470. The peers (Go binaries) get the same warm-up. <c>PYRALOG_BENCH_WARMUP</c> (seconds) overrides it.
    /// </summary>
    public static TimeSpan Warmup => WarmupOverride ?? (Quick ? TimeSpan.FromSeconds(0.5) : TimeSpan.FromSeconds(15));

    /// <summary>
    /// Load before each of the partition suite's produce cases is measured: 45 s, so its absolute targets see the silos'
    /// sustained rate rather than their JIT's tier-up (the measurements behind it: README, "How the suites measure").
    /// <c>PYRALOG_BENCH_WARMUP</c> (seconds) overrides it too.
    /// </summary>
    public static TimeSpan SteadyWarmup => WarmupOverride ?? (Quick ? TimeSpan.FromSeconds(0.5) : TimeSpan.FromSeconds(45));

    private static TimeSpan? WarmupOverride =>
        int.TryParse(Environment.GetEnvironmentVariable("PYRALOG_BENCH_WARMUP"), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(seconds)
            : null;

    public static TimeSpan WindowMeasure => Quick ? TimeSpan.FromSeconds(2) : TimeSpan.FromSeconds(10);

    public static TimeSpan SyncMeasure => Quick ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(5);

    /// <summary>Upper bound on one consume case (it normally ends when everything produced was read).</summary>
    public static TimeSpan ConsumeBudget => Quick ? TimeSpan.FromSeconds(10) : TimeSpan.FromSeconds(60);

    public static int FailoverTrials => Quick ? 1 : 5;

    /// <summary>Unavailability the failover target allows (every trial).</summary>
    public static readonly TimeSpan FailoverTarget = TimeSpan.FromSeconds(1);

    public static void Log(string line) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {Suite} {DateTime.UtcNow:HH:mm:ss.fff}: {line}"));

    /// <summary>The payload every record carries: 100 seeded random bytes.</summary>
    public static byte[] Payload()
    {
        var payload = new byte[RecordBytes];
        new Random(Seed).NextBytes(payload);
        return payload;
    }
}
