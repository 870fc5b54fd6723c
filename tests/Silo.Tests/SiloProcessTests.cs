using System.Diagnostics;
using Pyralog.Client;
using Pyralog.Client.Obelisk;
using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Testing;

namespace Pyralog.Silo.Tests;

/// <summary>The real silo process on 127.0.0.1: start, serve IDs to a client, stop on SIGTERM, restart on the same data.</summary>
public sealed class SiloProcessTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("pyralog-silo-").FullName;

    public void Dispose() => Directory.Delete(_data, recursive: true);

    [Fact]
    public async Task A_silo_serves_ids_stops_gracefully_and_resumes_above_them_after_a_restart()
    {
        var siloPort = TestPorts.Next();
        var gatewayPort = TestPorts.Next();
        var options = new PyralogClientOptions { GatewayPorts = [gatewayPort], ClusterId = $"test-{siloPort}", ConnectTimeout = TimeSpan.FromSeconds(20) };
        var generatorOptions = new ScarabIdGeneratorOptions { ObeliskIds = [42], BlockSize = 1000 };

        ScarabId last;
        using (var silo = await SiloProcess.StartAsync(_data, siloPort, gatewayPort))
        {
            Assert.Contains($"gateway 127.0.0.1:{gatewayPort}", silo.Banner);
            Assert.Contains(_data, silo.Banner);
            var wrongCluster = await Assert.ThrowsAsync<PyralogConnectionException>(() => PyralogClient.ConnectAsync(
                new PyralogClientOptions { GatewayPorts = [gatewayPort], ClusterId = "other", ConnectTimeout = TimeSpan.FromSeconds(1) }));
            Assert.Equal(
                $"no silo of cluster 'other' answered at 127.0.0.1:{gatewayPort} within 1 s, though port {gatewayPort} accepts connections: " +
                "the cluster id (or service id) may be wrong, or the port is not a Pyralog gateway",
                wrongCluster.Message);
            await using var client = await PyralogClient.ConnectAsync(options);
            var generator = client.CreateIdGenerator(generatorOptions);
            var ids = new ScarabId[20_000];
            for (var i = 0; i < ids.Length; i++)
            {
                ids[i] = await generator.NextAsync();
                if (i > 0)
                {
                    Assert.True(ids[i] > ids[i - 1], $"#{i} {ids[i]} after {ids[i - 1]}");
                }

                Assert.Equal(42, ids[i].ObeliskId);
            }

            last = ids[^1];
            if (OperatingSystem.IsLinux())
            {
                // Every thread, those Orleans and the runtime started after start-up included, runs under SCHED_BATCH (the
                // default) once the silo's keeper has seen it (it looks every second).
                var policies = ThreadPolicies.Of(silo.Process.Id);
                for (var deadline = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency); policies.Any(p => p.Policy != ThreadPolicies.Batch) && Stopwatch.GetTimestamp() < deadline;)
                {
                    await Task.Delay(100);
                    policies = ThreadPolicies.Of(silo.Process.Id);
                }

                Assert.True(policies.Count > 10, $"only {policies.Count} threads listed");
                Assert.DoesNotContain(policies, p => p.Policy != ThreadPolicies.Batch);
            }

            Assert.Equal(0, await silo.StopAsync());
            Assert.Contains("Pyralog silo stopped.", silo.Output);
        }

        Assert.True(File.Exists(Path.Combine(_data, "obelisk", "0042.obelisk")));

        using (var silo = await SiloProcess.StartAsync(_data, siloPort, gatewayPort, "--cluster-id", $"test-{siloPort}", "--Silo:CpuScheduling", "Normal"))
        {
            await using var client = await PyralogClient.ConnectAsync(options);
            var first = await client.CreateIdGenerator(generatorOptions).NextAsync();
            Assert.True(first > last, $"{first.ToReadableString()} after a restart is not above {last.ToReadableString()}");
            if (OperatingSystem.IsLinux())
            {
                // Normal leaves the policy alone: every thread under the default, but the arena warmer, which lowers itself.
                Assert.DoesNotContain(ThreadPolicies.Of(silo.Process.Id), p => p.Policy != (ThreadPolicies.IsArenaWarmer(p) ? ThreadPolicies.Idle : ThreadPolicies.Other));
            }

            Assert.Equal(0, await silo.StopAsync());
        }
    }

    /// <summary>
    /// A silo whose standard output nobody reads (a paused terminal, a stuck log shipper), logging at Debug: it becomes
    /// ready and keeps answering while its requests log far more than the pipe and the console logger's queue hold. With
    /// .NET's default console logger every thread that logs waits once that queue is full, and the silo stops answering.
    /// </summary>
    [Fact]
    public async Task A_silo_whose_output_nobody_reads_still_answers()
    {
        var siloPort = TestPorts.Next();
        var httpPort = TestPorts.Next();
        var info = SiloProcess.StartInfo(
            ["--data-dir", _data, "--silo-port", $"{siloPort}", "--gateway-port", $"{TestPorts.Next()}", "--http-port", $"{httpPort}", "--cluster-id", $"test-{siloPort}"]);
        foreach (var category in new[] { "Default", "Microsoft", "Orleans" })
        {
            info.Environment[$"Logging__LogLevel__{category}"] = "Debug";
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the silo");
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var deadline = Stopwatch.GetTimestamp() + (60 * Stopwatch.Frequency);
            var ready = false;
            while (!ready && Stopwatch.GetTimestamp() < deadline && !process.HasExited)
            {
                try
                {
                    ready = (await http.GetAsync($"http://127.0.0.1:{httpPort}/health/ready")).IsSuccessStatusCode;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    // Not listening yet, or (the bug) not answering.
                }

                if (!ready)
                {
                    await Task.Delay(200);
                }
            }

            Assert.True(ready, "the silo whose output nobody read never answered ready within 60 s");

            // Each request logs several lines at Debug: far more than the console logger's queue and the pipe hold.
            for (var i = 0; i < 1500; i++)
            {
                Assert.True((await http.GetAsync($"http://127.0.0.1:{httpPort}/health/ready")).IsSuccessStatusCode, $"request {i} was not answered ready");
            }
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task A_silo_with_a_bad_setting_exits_with_a_message_naming_it()
    {
        using var silo = SiloProcess.Start(_data, 1, 1);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await silo.Process.WaitForExitAsync(timeout.Token);
        silo.WaitForOutput();
        Assert.Equal(2, silo.Process.ExitCode);
        Assert.Contains("Silo:SiloPort (--silo-port) and Silo:GatewayPort must differ", silo.Output);
    }
}
