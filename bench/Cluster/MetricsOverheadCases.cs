using System.Diagnostics;
using Pyralog.Bench.Harness;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Silo.Tests.Partitions;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// What metrics cost the data path (issue 12): <c>produce-100B-window-os-cache</c> on three silos with metrics on (every
/// instrument listened to, each silo's <c>/metrics</c> scraped every 5 s by <c>curl</c>, out of process as Prometheus
/// would) and off (<c>--Silo:Metrics false</c>: no listener), four times each in the order on, off, off, on, on, off,
/// off, on after an unmeasured warm-up cluster. Reports each side's mean records/s and silos' CPU per record, and
/// <c>overhead %</c> = (off − on) / off of the means; target ≤ 5 %.
/// </summary>
internal static class MetricsOverheadCases
{
    public const string Case = "metrics-overhead";
    private const string On = "produce-100B-window-os-cache-metrics-on";
    private const string Off = "produce-100B-window-os-cache-metrics-off";

    /// <summary>
    /// Prometheus scrapes every 15 s by default; 5 s here puts two scrapes of every silo in each 10 s measurement. A quick
    /// run (2.5 s of load) scrapes every 0.5 s, so it can show that scraping works.
    /// </summary>
    private static TimeSpan ScrapeInterval => ClusterSettings.Quick ? TimeSpan.FromMilliseconds(500) : TimeSpan.FromSeconds(5);

    /// <summary>
    /// Load before the measurement starts. A silo process spends 15–25 % of its CPU in the JIT during its first seconds
    /// under load (tier-1 recompilation of the hot paths), more with metrics on (the exporter's and instruments' code):
    /// the 2 s the throughput cases warm up for would charge that one-time cost, which a silo that runs for days pays
    /// once, to the metrics.
    /// </summary>
    private static TimeSpan Warmup => ClusterSettings.Quick ? ClusterSettings.Warmup : TimeSpan.FromSeconds(20);

    public static async Task RunAsync(BenchReport report, string root, CancellationToken cancellationToken)
    {
        var sum = new Dictionary<bool, (double RecordsPerSecond, double CpuPerRecord)> { [true] = default, [false] = default };
        var measured = 0;
        // A first, unmeasured cluster takes the benchmark process's own warm-up (its producer path's JIT), which otherwise
        // fell on whichever side ran first. Rounds swing by ±30 % here (how the load falls into commit groups) and drift,
        // so each side runs four times, in an order that cancels a linear drift in the means.
        (bool Metrics, string Round)[] rounds =
            [(false, "warm-up"), (true, "1"), (false, "1"), (false, "2"), (true, "2"), (true, "3"), (false, "3"), (false, "4"), (true, "4")];
        foreach (var (metrics, round) in rounds)
        {
            var directory = Path.Combine(root, $"metrics-{round}-{(metrics ? "on" : "off")}");
            var (recordsPerSecond, cpuPerRecord) = await RunRoundAsync(directory, metrics, cancellationToken);
            ClusterSettings.Log($"metrics {(metrics ? "on" : "off")}, round {round}: {recordsPerSecond:N0} records/s, silos' CPU {cpuPerRecord:0.0} us/record");
            // The next round must not share the disk with the writeback of this one's gigabyte.
            Directory.Delete(directory, recursive: true);
            if (round != "warm-up")
            {
                var (r, c) = sum[metrics];
                sum[metrics] = (r + recordsPerSecond, c + cpuPerRecord);
                measured++;
            }
        }

        var perSide = measured / 2;
        var (on, onCpu) = (sum[true].RecordsPerSecond / perSide, sum[true].CpuPerRecord / perSide);
        var (off, offCpu) = (sum[false].RecordsPerSecond / perSide, sum[false].CpuPerRecord / perSide);
        report.Add(ClusterSettings.Suite, On, PyralogCases.System, "records/s", on, "records/s");
        report.Add(ClusterSettings.Suite, Off, PyralogCases.System, "records/s", off, "records/s");
        var overhead = (off - on) / off * 100;
        report.Add(ClusterSettings.Suite, Case, PyralogCases.System, "overhead %", overhead, "%");
        // What metrics cost the silos whatever else ran: steadier than records/s on a shared two-core machine.
        var cpuOverhead = (onCpu - offCpu) / offCpu * 100;
        report.Add(ClusterSettings.Suite, On, PyralogCases.System, "silo cpu us/record", onCpu, "us");
        report.Add(ClusterSettings.Suite, Off, PyralogCases.System, "silo cpu us/record", offCpu, "us");
        report.Add(ClusterSettings.Suite, Case, PyralogCases.System, "cpu overhead %", cpuOverhead, "%");
        Console.WriteLine($"    metrics CPU per record: {cpuOverhead:0.0} % more (on {onCpu:0.0}, off {offCpu:0.0} us of silo CPU per record)");
        Console.WriteLine($"    target metrics overhead <= 5 %: {(overhead <= 5 ? "met" : "MISSED")} ({overhead:0.0} %: on {on:N0}, off {off:N0} records/s)");
    }

    /// <summary>One cluster with metrics on or off under the window load: its records/s and the silos' CPU per record.</summary>
    private static async Task<(double RecordsPerSecond, double CpuPerRecord)> RunRoundAsync(string directory, bool metrics, CancellationToken cancellationToken)
    {
        string[] args = metrics ? ClusterSettings.SiloArgs : [.. ClusterSettings.SiloArgs, "--Silo:Metrics", "false"];
        await using var cluster = await PartitionCluster.StartAsync(directory, preferRedis: true, ClusterSettings.Log, args);
        var (log, leader) = await PyralogCases.CreateLogAsync(cluster, "metered", 1, LogDurability.OsCache);
        await using var producer = PyralogCases.PathFor(cluster, log, leader);
        if (metrics)
        {
            // A silo's first scrape compiles the exporter's code paths (a second of CPU or so per silo on this
            // machine); a Prometheus that scrapes all along pays that once, long before any measurement.
            await ScrapeOnceAsync(cluster, cancellationToken);
        }

        var record = new ProducerRecord(null, ClusterSettings.Payload());
        using var scraping = new CancellationTokenSource();
        var scraper = metrics ? ScrapeAsync(cluster, scraping.Token) : Task.FromResult(0L);
        var result = await LoadDriver.RunAsync(ClusterSettings.Window, Warmup, ClusterSettings.WindowMeasure, _ => producer.ProduceAsync(record), () => cluster.ProcessIds, cancellationToken);
        await scraping.CancelAsync();
        var scrapes = await scraper;
        if (metrics && (scrapes == 0 || !await LeaderCountedAppendsAsync(cluster, cancellationToken)))
        {
            throw new InvalidOperationException($"metrics were on but {scrapes} scrapes answered or no silo counted an append");
        }

        return (result.RecordsPerSecond, result.ServerCpuMicrosPerRecord);
    }

    private static async Task ScrapeOnceAsync(PartitionCluster cluster, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        for (var silo = 0; silo < PartitionCluster.Size; silo++)
        {
            _ = await http.GetStringAsync($"http://127.0.0.1:{cluster.HttpPort(silo)}/metrics", cancellationToken);
        }
    }

    /// <summary>Whether some silo's <c>/metrics</c> (the leader's) counts appended records: the scrapes saw real figures.</summary>
    private static async Task<bool> LeaderCountedAppendsAsync(PartitionCluster cluster, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        for (var silo = 0; silo < PartitionCluster.Size; silo++)
        {
            var text = await http.GetStringAsync($"http://127.0.0.1:{cluster.HttpPort(silo)}/metrics", cancellationToken);
            if (text.Contains("pyralog_partition_appended_records_total", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// GETs every silo's <c>/metrics</c> every <see cref="ScrapeInterval"/> until cancelled, with <c>curl</c> in its own
    /// process as Prometheus would scrape from its own: scraping from the load generator's process charged the scraper's
    /// work (a 120 KB string per silo, large-object-heap garbage, collections that pause the producer) to the data path.
    /// Returns how many scrapes answered 200.
    /// </summary>
    private static async Task<long> ScrapeAsync(PartitionCluster cluster, CancellationToken cancellationToken)
    {
        long answered = 0;
        using var timer = new PeriodicTimer(ScrapeInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                for (var silo = 0; silo < PartitionCluster.Size; silo++)
                {
                    if (await CurlAsync($"http://127.0.0.1:{cluster.HttpPort(silo)}/metrics", cancellationToken) == "200")
                    {
                        answered++;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        return answered;
    }

    /// <summary>The HTTP status <c>curl</c> got for <paramref name="url"/> (the body is discarded).</summary>
    private static async Task<string> CurlAsync(string url, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("curl") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-s", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}", url })
        {
            info.ArgumentList.Add(arg);
        }

        using var curl = Process.Start(info) ?? throw new InvalidOperationException("could not start curl");
        var status = await curl.StandardOutput.ReadToEndAsync(cancellationToken);
        await curl.WaitForExitAsync(cancellationToken);
        return status.Trim();
    }
}
