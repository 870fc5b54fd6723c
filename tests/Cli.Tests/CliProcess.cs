using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Pyralog.Cli.Tests;

/// <summary>The real <c>pyralog</c> executable as a child process: stdin kept open until closed, stdout and stderr captured.</summary>
internal sealed partial class CliProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();
    private readonly Task _outputDone;
    private readonly Task _errorDone;

    private CliProcess(Process process, bool readOutput)
    {
        _process = process;
        if (readOutput)
        {
            _outputDone = PumpAsync(process.StandardOutput, _output);
        }
        else
        {
            // The only read end of the stdout pipe: once it is closed, a write to stdout fails with EPIPE.
            process.StandardOutput.Close();
            _outputDone = Task.CompletedTask;
        }

        _errorDone = PumpAsync(process.StandardError, _error);
    }

    /// <summary>
    /// The CLI as its own project built it (Cli/bin/{configuration}/{framework}/pyralog.dll). The copy in this test's
    /// output does not run: the silo brings in ASP.NET Core's shared framework, so the build leaves out the
    /// Microsoft.Extensions.Hosting the CLI loads from its own directory.
    /// </summary>
    private static string CliPath
    {
        get
        {
            var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var configuration = framework.Parent!;
            var root = configuration.Parent!.Parent!.Parent!.Parent!; // tests/Cli.Tests/bin/{configuration}/{framework}
            var path = Path.Combine(root.FullName, "Cli", "bin", configuration.Name, framework.Name, "pyralog.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"the CLI is not built at {path}", path);
        }
    }

    public static CliProcess Start(params string[] args) => Start(readOutput: true, args);

    /// <summary>The CLI with stdout on a pipe whose read end is closed, as after <c>| head</c> read what it wanted.</summary>
    public static CliProcess StartWithoutReader(params string[] args) => Start(readOutput: false, args);

    private static CliProcess Start(bool readOutput, string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(CliPath);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return new CliProcess(Process.Start(info) ?? throw new InvalidOperationException("could not start pyralog"), readOutput);
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

    public async Task WriteInputAsync(string text)
    {
        await _process.StandardInput.WriteAsync(text);
        await _process.StandardInput.FlushAsync();
    }

    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Waits until stdout holds <paramref name="text"/> (or the process ends, or a minute passes).</summary>
    public async Task WaitForOutputAsync(string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!Output.Contains(text, StringComparison.Ordinal) && !_process.HasExited && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
    }

    /// <summary>SIGTERM, as a service manager's stop (or a terminal's Ctrl+C, SIGINT, which takes the same path) sends it.</summary>
    public void Terminate() => _ = Kill(_process.Id, 15);

    public async Task<(int Exit, string Out, string Err)> ExitAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await _process.WaitForExitAsync(timeout.Token);
        await Task.WhenAll(_outputDone, _errorDone);
        string error;
        lock (_error)
        {
            error = _error.ToString();
        }

        return (_process.ExitCode, Output.ReplaceLineEndings("\n"), error.ReplaceLineEndings("\n"));
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    private static async Task PumpAsync(StreamReader reader, StringBuilder into)
    {
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            lock (into)
            {
                into.Append(buffer, 0, read);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
