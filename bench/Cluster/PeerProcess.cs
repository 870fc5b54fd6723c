using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// A server process of a peer (nats-server, etcd) the bench started: its output is kept (the tail, for failure
/// messages) and it dies with the bench. Every live one is registered, so a failing run, Ctrl-C or the process exiting
/// kills them all (<see cref="KillAll"/>); <see cref="Kill"/> is SIGKILL.
/// </summary>
internal sealed class PeerProcess : IDisposable
{
    private static readonly ConcurrentDictionary<int, PeerProcess> Live = new();
    private readonly StringBuilder _output = new();

    static PeerProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
    }

    private PeerProcess(string name, Process process)
    {
        Name = name;
        Process = process;
    }

    public string Name { get; }

    public Process Process { get; }

    public bool IsRunning => !Process.HasExited;

    /// <summary>Process ids of the peers in <paramref name="peers"/> that run now.</summary>
    public static IEnumerable<int> RunningIds(IEnumerable<PeerProcess?> peers) =>
        [.. peers.Where(p => p is { IsRunning: true }).Select(p => p!.Process.Id)];

    /// <summary>The last lines the process printed (stdout and stderr).</summary>
    public string OutputTail(int lines = 30)
    {
        lock (_output)
        {
            return string.Join('\n', _output.ToString().Split('\n').TakeLast(lines));
        }
    }

    /// <summary>Whether <paramref name="binary"/> is an executable on PATH; its full path when it is.</summary>
    public static string? Find(string binary) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, binary))
            .FirstOrDefault(File.Exists);

    public static PeerProcess Start(string name, string binary, IEnumerable<string> args, string workingDirectory)
    {
        var info = new ProcessStartInfo(binary)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {binary}");
        var peer = new PeerProcess(name, process);
        Live[process.Id] = peer;
        process.OutputDataReceived += (_, e) => peer.Append(e.Data);
        process.ErrorDataReceived += (_, e) => peer.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    /// <summary>SIGKILL, then waits (bounded) until the process is gone.</summary>
    public void Kill()
    {
        if (!Process.HasExited)
        {
            Process.Kill(); // SIGKILL
        }

        if (!Process.WaitForExit(30_000))
        {
            throw new InvalidOperationException($"{Name} (pid {Process.Id}) outlived SIGKILL for 30 s");
        }
    }

    /// <summary>Kills every peer process still running (used on Ctrl-C and at process exit).</summary>
    public static void KillAll()
    {
        foreach (var peer in Live.Values)
        {
            try
            {
                if (!peer.Process.HasExited)
                {
                    peer.Process.Kill();
                }
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        }
    }

    public void Dispose()
    {
        try
        {
            if (!Process.HasExited)
            {
                Process.Kill();
                Process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // never started or already reaped
        }

        Live.TryRemove(Process.Id, out _);
        Process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
            if (_output.Length > 64 * 1024)
            {
                _output.Remove(0, _output.Length - (32 * 1024));
            }
        }
    }
}
