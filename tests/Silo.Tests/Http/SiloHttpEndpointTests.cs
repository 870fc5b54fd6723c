using System.Globalization;
using System.Net;
using System.Text.Json;
using Pyralog.Client;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Testing;

namespace Pyralog.Silo.Tests.Http;

/// <summary>A real silo process's HTTP endpoint: health as it starts, serves and stops; metrics after produce and consume; the pages.</summary>
public sealed class SiloHttpEndpointTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("pyralog-http-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public void Dispose()
    {
        _http.Dispose();
        Directory.Delete(_data, recursive: true);
    }

    [Fact]
    public async Task Health_turns_ready_when_the_silo_is_up_and_unready_while_it_stops_and_metrics_count_what_was_produced()
    {
        var siloPort = TestPorts.Next();
        var gatewayPort = TestPorts.Next();
        using var silo = await SiloProcess.StartAsync(_data, siloPort, gatewayPort);
        var url = $"http://127.0.0.1:{silo.HttpPort}";
        Assert.Contains($"http http://127.0.0.1:{silo.HttpPort}", silo.Banner);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync($"{url}/health/live"));
        var ready = await _http.GetAsync($"{url}/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        using (var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()))
        {
            Assert.Equal("Healthy", report.RootElement.GetProperty("status").GetString());
            foreach (var check in new[] { "store", "membership", "metadata" })
            {
                Assert.Equal("Healthy", report.RootElement.GetProperty("checks").GetProperty(check).GetProperty("status").GetString());
            }
        }

        // Produce 100 records of 10 bytes to a log of 2 partitions, and read them back.
        await using (var client = await PyralogClient.ConnectAsync(
            new PyralogClientOptions { GatewayPorts = [gatewayPort], ClusterId = $"test-{siloPort}", ConnectTimeout = TimeSpan.FromSeconds(20) }))
        {
            await client.CreateLogAsync("metered", partitions: 2, replicationFactor: 1);
            await using (var producer = client.CreateProducer())
            {
                for (var i = 0; i < 100; i++)
                {
                    await producer.ProduceAsync("metered", i % 2, new ProducerRecord(null, new byte[10]));
                }
            }

            Assert.Equal(100, await CountCommittedAsync(url));
        }

        var metrics = await ScrapeAsync(url);
        Assert.Equal(100, Sum(metrics, "pyralog_partition_appended_records_total"));
        Assert.Equal(100, Sum(metrics, "pyralog_partition_commit_duration_seconds_count"));
        Assert.True(Sum(metrics, "pyralog_partition_appended_bytes_total") >= 100 * 10, "appended bytes cover the values");
        Assert.Equal(3, Sum(metrics, "pyralog_replica_leaders")); // the metadata group's leader and both partitions' (RF 1)
        Assert.Equal(5, Sum(metrics, "pyralog_replica_active")); // three metadata replicas, two partition replicas
        Assert.True(Sum(metrics, "pyralog_storage_wal_syncs_total") >= 100, "every fsync-durable append synced the WAL");
        Assert.Equal(Sum(metrics, "pyralog_storage_wal_syncs_total"), Sum(metrics, "pyralog_storage_wal_sync_duration_seconds_count"));
        Assert.True(Sum(metrics, "pyralog_storage_write_amplification") >= 1, "the WAL alone writes each byte once");
        Assert.True(Sum(metrics, "pyralog_storage_flush_cpu_time_seconds_total") >= 0, "exported (0 until a memtable is flushed)");
        var mapCap = int.Parse(File.ReadAllText("/proc/sys/vm/max_map_count").Trim(), CultureInfo.InvariantCulture);
        Assert.Equal(mapCap / 2, Sum(metrics, "pyralog_storage_segments_mapped_limit")); // the default: half the kernel's cap
        Assert.Equal(0, Sum(metrics, "pyralog_storage_segments_remaps_total")); // a few segments, far under the limit
        Assert.True(Sum(metrics, "pyralog_ids_issued_total") >= 1, "producer ids and incarnations are Scarab IDs");
        Assert.True(Sum(metrics, "orleans_catalog_activation_created_total") >= 5, "Orleans' own meter is exported");
        Assert.DoesNotContain(metrics.Keys, k => k.StartsWith("orleans_messaging_", StringComparison.Ordinal) || k.StartsWith("orleans_app_requests_", StringComparison.Ordinal));
        Assert.Contains(metrics.Keys, k => k.StartsWith("dotnet_gc_", StringComparison.Ordinal));

        // The pages answer.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync($"{url}/pyralog"));
        var dashboard = await _http.GetAsync($"{url}/dashboard/");
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Contains("Orleans", await dashboard.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync($"{url}/dashboard/Trace")); // the live log stream only when asked for
        Assert.DoesNotContain("Orleans.Dashboard.DashboardHost", silo.Output); // it starts after the silo: no failed calls to its grains

        // Stopping: the silo says not ready from the start of its stop; Orleans stops before the HTTP endpoint closes.
        // The polls overlap: one that began just before the stop may wait for its metadata check (up to 5 s, a grain call
        // into a stopping silo) and answer only after the endpoint's last moments, with the membership it saw first.
        _ = silo.StopAsync();
        string? stopping = null;
        var polls = new List<Task>();
        while (!silo.Process.HasExited && Volatile.Read(ref stopping) is null)
        {
            polls.Add(PollAsync());
            await Task.Delay(20);
        }

        await Task.WhenAll(polls);
        Assert.True(stopping is not null, "the silo never answered not ready while it stopped:\n" + silo.Output);
        Assert.Matches(@"^silo S127\.0\.0\.1:\d+:\d+ is stopping$", stopping);
        await silo.Process.WaitForExitAsync();
        Assert.Equal(0, silo.Process.ExitCode);

        async Task PollAsync()
        {
            if (await NotReadyAsync($"{url}/health/ready") is { } answer)
            {
                Interlocked.CompareExchange(ref stopping, answer, null);
            }
        }
    }

    [Fact]
    public async Task A_silo_that_cannot_join_its_cluster_is_live_but_not_ready()
    {
        // Development membership whose primary silo does not run: this silo waits to join and never becomes active.
        var siloPort = TestPorts.Next();
        using var silo = SiloProcess.Start(
            _data, siloPort, TestPorts.Next(), "--membership", "development", "--primary-port", $"{TestPorts.Next()}", "--cluster-id", $"test-{siloPort}");
        var url = $"http://127.0.0.1:{silo.HttpPort}";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (await StatusAsync($"{url}/health/live") != HttpStatusCode.OK)
        {
            Assert.False(silo.Process.HasExited, silo.Output);
            Assert.True(DateTime.UtcNow < deadline, "/health/live never answered while the silo was joining (60 s):\n" + silo.Output);
            await Task.Delay(20);
        }

        var ready = await _http.GetAsync($"{url}/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        using var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
        Assert.Equal("Unhealthy", report.RootElement.GetProperty("status").GetString());
        var membership = report.RootElement.GetProperty("checks").GetProperty("membership");
        Assert.Equal("Unhealthy", membership.GetProperty("status").GetString());
        Assert.Matches(@"^silo S127\.0\.0\.1:\d+:\d+ is (none|created|joining) in membership$", membership.GetProperty("description").GetString());
        Assert.DoesNotContain("Pyralog silo up:", silo.Output);
    }

    [Fact]
    public async Task Without_the_dashboard_the_endpoint_serves_metrics_and_health_only_and_Orleans_messaging_metrics_when_asked()
    {
        using var silo = await SiloProcess.StartAsync(
            _data, TestPorts.Next(), TestPorts.Next(), "--Silo:Dashboard", "false", "--Silo:OrleansMessagingMetrics", "true");
        var url = $"http://127.0.0.1:{silo.HttpPort}";
        Assert.Equal(HttpStatusCode.OK, await StatusAsync($"{url}/health/ready")); // asks the metadata group: grain calls
        var metrics = await ScrapeAsync(url);
        Assert.True(Sum(metrics, "orleans_app_requests_latency_milliseconds_count") >= 1, "Orleans' per-request instruments are exported when asked for");
        Assert.Contains(metrics.Keys, k => k.StartsWith("orleans_messaging_", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync($"{url}/health/live"));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync($"{url}/dashboard/"));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync($"{url}/pyralog"));
        Assert.DoesNotContain("/dashboard", silo.Banner);
        Assert.Equal(0, await silo.StopAsync());
    }

    private async Task<HttpStatusCode?> StatusAsync(string url)
    {
        try
        {
            using var response = await _http.GetAsync(url);
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null; // not listening (yet, or any more)
        }
    }

    /// <summary>The membership check's description when <paramref name="url"/> answers 503; null when it answers otherwise or not at all.</summary>
    private async Task<string?> NotReadyAsync(string url)
    {
        try
        {
            using var response = await _http.GetAsync(url);
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
            {
                return null;
            }

            // The checks of one report run one after another: the stop can begin between them, so the metadata check
            // may already say "stopping" in a report whose membership check said "active". Only membership's own answer counts.
            using var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var membership = report.RootElement.GetProperty("checks").GetProperty("membership");
            return membership.GetProperty("status").GetString() == "Unhealthy" ? membership.GetProperty("description").GetString() : null;
        }
        catch (HttpRequestException)
        {
            return null; // not listening (yet, or any more)
        }
    }

    private async Task<long> CountCommittedAsync(string url)
    {
        using var overview = JsonDocument.Parse(await _http.GetStringAsync($"{url}/pyralog/api/overview"));
        long committed = 0;
        foreach (var log in overview.RootElement.GetProperty("logs").EnumerateArray())
        {
            foreach (var partition in log.GetProperty("partitions").EnumerateArray())
            {
                committed += partition.GetProperty("committedNext").GetInt64() - partition.GetProperty("firstOffset").GetInt64();
            }
        }

        return committed;
    }

    /// <summary>The Prometheus text exposition as series (name with labels) → value.</summary>
    private async Task<Dictionary<string, double>> ScrapeAsync(string url)
    {
        var series = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in (await _http.GetStringAsync($"{url}/metrics")).Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            series[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }

        return series;
    }

    /// <summary>The sum over every series of metric <paramref name="name"/>, whatever its labels.</summary>
    private static double Sum(Dictionary<string, double> metrics, string name)
    {
        double sum = 0;
        var found = false;
        foreach (var (series, value) in metrics)
        {
            if (series == name || series.StartsWith(name + "{", StringComparison.Ordinal))
            {
                sum += value;
                found = true;
            }
        }

        Assert.True(found, $"no series {name} in /metrics");
        return sum;
    }
}
