using System.Diagnostics;
using System.Text;
using Pyralog.Testing;

namespace Pyralog.Cli.Tests;

/// <summary>
/// One Pyralog.Silo process on 127.0.0.1 (localhost membership, cluster id <c>cli-{gateway port}</c>) in a data
/// directory of its own, for running the CLI against a real cluster.
/// </summary>
internal sealed class SiloChild : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dataDirectory;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _up = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SiloChild(Process process, string dataDirectory, int gatewayPort)
    {
        _process = process;
        _dataDirectory = dataDirectory;
        GatewayPort = gatewayPort;
    }

    public int GatewayPort { get; }

    public string ClusterId => $"cli-{GatewayPort}";

    /// <summary>The connection options that reach this silo.</summary>
    public string[] ConnectionArgs => ["--gateway-port", $"{GatewayPort}", "--cluster-id", ClusterId];

    public static async Task<SiloChild> StartAsync()
    {
        var data = Directory.CreateTempSubdirectory("pyralog-cli-").FullName;
        var siloPort = TestPorts.Next();
        var gatewayPort = TestPorts.Next();
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "Pyralog.Silo.dll"), "--data-dir", data, "--silo-port", $"{siloPort}",
            "--gateway-port", $"{gatewayPort}", "--http-port", $"{TestPorts.Next()}", "--cluster-id", $"cli-{gatewayPort}",
        })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the silo");
        var silo = new SiloChild(process, data, gatewayPort);
        process.OutputDataReceived += (_, e) => silo.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => silo.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var up = await Task.WhenAny(silo._up.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (up != silo._up.Task)
        {
            await silo.DisposeAsync();
            throw new InvalidOperationException($"the silo did not come up:\n{silo.Output}");
        }

        return silo;
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(_dataDirectory, recursive: true);
    }


    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        if (line.StartsWith("Pyralog silo up:", StringComparison.Ordinal))
        {
            _up.TrySetResult();
        }
    }
}
