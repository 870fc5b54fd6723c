using System.Diagnostics;
using System.Text;
using Pyralog.Testing;

namespace Pyralog.Silo.Tests;

/// <summary>A Pyralog.Silo child process on 127.0.0.1, with its output captured.</summary>
internal sealed class SiloProcess : IDisposable
{
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<string> _banner = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // With PYRALOG_TEST_SILO_OUTPUT naming a directory, every line also goes to silo-{pid}.log there as it is printed
    // (to watch a Slow test's silos live, or to act on a line, e.g. take their stacks when a stall is reported).
    private StreamWriter? _liveOutput;

    // The threads reading the silo's standard output and error (set once, by Start).
    private Thread[] _readers = [];

    private SiloProcess(Process process)
    {
        Process = process;
    }

    public Process Process { get; }

    /// <summary>The port of the silo's HTTP endpoint (metrics, health, dashboards) on 127.0.0.1.</summary>
    public int HttpPort { get; private init; }

    public string Banner => _banner.Task.Result;

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

    /// <summary>Runs a silo that is expected to refuse to start, with exactly <paramref name="args"/>: its exit code and output.</summary>
    public static async Task<(int Exit, string Out, string Err)> RunToExitAsync(params string[] args)
    {
        using var process = Process.Start(StartInfo(args)) ?? throw new InvalidOperationException("could not start the silo");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, await output, await error);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>
    /// Starts a silo on the given ports; its HTTP endpoint gets a free port (<see cref="HttpPort"/>) unless
    /// <paramref name="extraArgs"/> name one with <c>--http-port</c>.
    /// </summary>
    public static SiloProcess Start(string dataDirectory, int siloPort, int gatewayPort, params string[] extraArgs)
    {
        var given = Array.IndexOf(extraArgs, "--http-port");
        var httpPort = given >= 0 ? int.Parse(extraArgs[given + 1], System.Globalization.CultureInfo.InvariantCulture) : TestPorts.Next();
        string[] http = given >= 0 ? [] : ["--http-port", $"{httpPort}"];
        string[] args = extraArgs.Length > 0
            ? ["--data-dir", dataDirectory, "--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}", .. http, .. extraArgs]
            : ["--data-dir", dataDirectory, "--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}", .. http, "--cluster-id", $"test-{siloPort}"];
        var process = Process.Start(StartInfo(args)) ?? throw new InvalidOperationException("could not start the silo");
        var silo = new SiloProcess(process) { HttpPort = httpPort };
        if (Environment.GetEnvironmentVariable("PYRALOG_TEST_SILO_OUTPUT") is { Length: > 0 } live)
        {
            Directory.CreateDirectory(live);
            silo._liveOutput = new StreamWriter(Path.Combine(live, $"silo-{process.Id}.log")) { AutoFlush = true };
        }

        // Read, or a full pipe blocks the silo's logging; on threads of their own, so that a test process whose thread pool
        // is busy (a load test's workers) still drains its silos' output at once.
        silo._readers = [silo.Read(process.StandardOutput, ""), silo.Read(process.StandardError, "stderr: ")];
        return silo;
    }

    /// <summary>Waits until everything the silo printed before it exited has been read.</summary>
    public void WaitForOutput()
    {
        foreach (var reader in _readers)
        {
            reader.Join(TimeSpan.FromSeconds(10));
        }
    }

    private Thread Read(StreamReader stream, string prefix)
    {
        var reader = new Thread(() =>
        {
            while (stream.ReadLine() is { } line)
            {
                OnLine(prefix + line);
            }
        })
        {
            IsBackground = true,
            Name = "silo-output",
        };
        reader.Start();
        return reader;
    }

    /// <summary>How a silo process with exactly <paramref name="args"/> is started: its output and error redirected.</summary>
    internal static ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Pyralog.Silo.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return info;
    }

    /// <summary>Starts a silo and waits until it prints that it is up.</summary>
    public static async Task<SiloProcess> StartAsync(string dataDirectory, int siloPort, int gatewayPort, params string[] extraArgs)
    {
        var silo = Start(dataDirectory, siloPort, gatewayPort, extraArgs);
        var up = await Task.WhenAny(silo._banner.Task, silo.Process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (up != silo._banner.Task)
        {
            var exited = silo.Process.HasExited;
            if (exited)
            {
                silo.WaitForOutput();
            }

            var why = exited ? $"it exited with code {silo.Process.ExitCode}" : "no banner within 60 s";
            var output = silo.Output;
            silo.Dispose();
            throw new InvalidOperationException($"the silo did not come up ({why}):\n{output}");
        }

        return silo;
    }

    /// <summary>SIGTERM, as an operator's stop would send, then the exit code.</summary>
    public async Task<int> StopAsync()
    {
        _ = Kill(Process.Id, 15);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await Process.WaitForExitAsync(timeout.Token);
        WaitForOutput();
        return Process.ExitCode;
    }

    /// <summary>SIGSTOP: the process stops running but keeps its sockets (a frozen VM or a long GC pause).</summary>
    public void Freeze() => _ = Kill(Process.Id, 19);

    /// <summary>SIGCONT after <see cref="Freeze"/>.</summary>
    public void Thaw() => _ = Kill(Process.Id, 18);


    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
        }

        Process.Dispose();
        lock (_output)
        {
            _liveOutput?.Dispose();
            _liveOutput = null;
        }
    }

    private void OnLine(string line)
    {
        lock (_output)
        {
            _output.AppendLine(line);
            _liveOutput?.WriteLine(line);
        }

        if (line.StartsWith("Pyralog silo up:", StringComparison.Ordinal))
        {
            _banner.TrySetResult(line);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
