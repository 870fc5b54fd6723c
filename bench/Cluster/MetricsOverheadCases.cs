using Pyralog.Bench.Harness;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Silo.Tests.Partitions;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// What metrics cost the data path (issue 12): <c>produce-100B-window-os-cache</c> on three silos with metrics on (every
/// instrument listened to, <c>/metrics</c> of each silo scraped every 5 s, as Prometheus would) and off
/// (<c>--Silo:Metrics false</c>: no listener), twice each in the order on, off, off, on, so drift on a shared machine
/// and the benchmark process's own warm-up hit both alike. Reports
/// each side's records/s (the better of its two rounds) and <c>overhead %</c> = (off − on) / off; target ≤ 5 %.
/// </summary>
internal static class MetricsOverheadCases
{
    public const string Case = "metrics-overhead";
    private const string On = "produce-100B-window-os-cache-metrics-on";
    private const string Off = "produce-100B-window-os-cache-metrics-off";

    /// <summary>
    /// Prometheus scrapes every 15 s by default; 5 s here puts two scrapes of every silo in each 10 s measurement.
    /// (Scraping every second from the load generator's own process cost it 10–25 % of its records/s on this 2-core
    /// machine, mostly the scraper's own work, which a real Prometheus does elsewhere.)
    /// </summary>
    private static readonly TimeSpan ScrapeInterval = TimeSpan.FromSeconds(5);

    public static async Task RunAsync(BenchReport report, string root, CancellationToken cancellationToken)
    {
        var best = new Dictionary<bool, double> { [true] = 0, [false] = 0 };
        var record = new ProducerRecord(null, ClusterSettings.Payload());
        for (var round = 0; round < 2; round++)
        {
            foreach (var metrics in round == 0 ? new[] { true, false } : [false, true])
            {
                string[] args = metrics ? ClusterSettings.SiloArgs : [.. ClusterSettings.SiloArgs, "--Silo:Metrics", "false"];
                await using var cluster = await PartitionCluster.StartAsync(Path.Combine(root, $"{round}-{metrics}"), preferRedis: true, ClusterSettings.Log, args);
                var (log, leader) = await PyralogCases.CreateLogAsync(cluster, "metered", 1, LogDurability.OsCache);
                await using var producer = PyralogCases.PathFor(cluster, log, leader);
                if (metrics)
                {
                    // A silo's first scrape compiles the exporter's code paths (a second of CPU or so per silo on this
                    // machine); a Prometheus that scrapes all along pays that once, long before any measurement.
                    await ScrapeOnceAsync(cluster, cancellationToken);
                }

                using var scraping = new CancellationTokenSource();
                var scraper = metrics ? ScrapeAsync(cluster, scraping.Token) : Task.FromResult(0L);
                var result = await LoadDriver.RunAsync(ClusterSettings.Window, ClusterSettings.Warmup, ClusterSettings.WindowMeasure, _ => producer.ProduceAsync(record), cancellationToken);
                await scraping.CancelAsync();
                var scrapes = await scraper;
                ClusterSettings.Log($"metrics {(metrics ? "on" : "off")}, round {round + 1}: {result.RecordsPerSecond:N0} records/s{(metrics ? $", {scrapes} scrapes" : "")}");
                if (metrics && scrapes == 0)
                {
                    throw new InvalidOperationException("no /metrics scrape answered while metrics were on");
                }

                best[metrics] = Math.Max(best[metrics], result.RecordsPerSecond);
            }
        }

        report.Add(ClusterSettings.Suite, On, PyralogCases.System, "records/s", best[true], "records/s");
        report.Add(ClusterSettings.Suite, Off, PyralogCases.System, "records/s", best[false], "records/s");
        var overhead = (best[false] - best[true]) / best[false] * 100;
        report.Add(ClusterSettings.Suite, Case, PyralogCases.System, "overhead %", overhead, "%");
        Console.WriteLine($"    target metrics overhead <= 5 %: {(overhead <= 5 ? "met" : "MISSED")} ({overhead:0.0} %: on {best[true]:N0}, off {best[false]:N0} records/s)");
    }

    private static async Task ScrapeOnceAsync(PartitionCluster cluster, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        for (var silo = 0; silo < PartitionCluster.Size; silo++)
        {
            _ = await http.GetStringAsync($"http://127.0.0.1:{cluster.HttpPort(silo)}/metrics", cancellationToken);
        }
    }

    /// <summary>GETs every silo's <c>/metrics</c> every <see cref="ScrapeInterval"/> until cancelled; returns how many answered.</summary>
    private static async Task<long> ScrapeAsync(PartitionCluster cluster, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        long answered = 0;
        using var timer = new PeriodicTimer(ScrapeInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                for (var silo = 0; silo < PartitionCluster.Size; silo++)
                {
                    var text = await http.GetStringAsync($"http://127.0.0.1:{cluster.HttpPort(silo)}/metrics", cancellationToken);
                    if (text.Contains("pyralog_partition_appended_records_total", StringComparison.Ordinal))
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
}
