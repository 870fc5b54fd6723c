using System.Net;
using System.Net.Sockets;
using Pyralog.Testing;

namespace Pyralog.Silo.Tests.Startup;

/// <summary>A stop asked for while the silo starts (Ctrl+C, SIGTERM), or before, is a stop like any other: exit 0, nothing on stderr.</summary>
public sealed class StopWhileStartingTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("pyralog-stop-starting-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };

    public void Dispose()
    {
        _http.Dispose();
        Directory.Delete(_data, recursive: true);
    }

    [Fact]
    public async Task A_silo_stopped_while_it_joins_its_cluster_exits_0_after_stopping_what_started()
    {
        // Development membership whose primary silo does not run: this silo tries to join for minutes.
        var siloPort = TestPorts.Next();
        using var silo = SiloProcess.Start(
            _data, siloPort, TestPorts.Next(), "--membership", "development", "--primary-port", $"{TestPorts.Next()}", "--cluster-id", $"test-{siloPort}");

        // The HTTP endpoint answers once the host started its services, before the silo's own start (SiloInsideHttpLifetime).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!await LiveAsync($"http://127.0.0.1:{silo.HttpPort}/health/live"))
        {
            Assert.False(silo.Process.HasExited, silo.Output);
            Assert.True(DateTime.UtcNow < deadline, "/health/live never answered while the silo was joining (60 s):\n" + silo.Output);
            await Task.Delay(20);
        }

        Assert.Equal(0, await silo.StopAsync());
        var output = silo.Output;
        Assert.DoesNotContain("stderr: ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Pyralog silo up:", output, StringComparison.Ordinal);
        Assert.Contains("Pyralog silo stopped.", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_silo_stopped_before_its_host_starts_exits_0()
    {
        // A Redis that takes the connection and never answers: the silo's start-up probe waits on it (up to 3 s), before
        // the host starts and with it the host's own signal handlers. Without the silo's earlier ones SIGTERM ended the
        // process there with exit code 143.
        using var redis = new TcpListener(IPAddress.Loopback, 0);
        redis.Start();
        var siloPort = TestPorts.Next();
        using var silo = SiloProcess.Start(
            _data, siloPort, TestPorts.Next(), "--membership", "redis", "--redis", $"127.0.0.1:{((IPEndPoint)redis.LocalEndpoint).Port}", "--cluster-id", $"test-{siloPort}");
        using var probe = await redis.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, await silo.StopAsync());
        var output = silo.Output;
        Assert.DoesNotContain("stderr: ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Pyralog silo up:", output, StringComparison.Ordinal);
        Assert.Contains("Pyralog silo stopped.", output, StringComparison.Ordinal);
    }

    private async Task<bool> LiveAsync(string url)
    {
        try
        {
            using var response = await _http.GetAsync(url);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false; // not listening yet
        }
    }
}
