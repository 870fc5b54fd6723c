using System.Diagnostics;

namespace Pyralog.Silo.Tests;

/// <summary>
/// Every managed thread's stack of a live .NET process, taken with the <c>dotnet-stack</c> tool when it is installed
/// (<c>dotnet tool install -g dotnet-stack</c>): what a saved failure needs when a silo or the test's client stopped
/// answering, since its log only says that calls timed out, not what its threads were waiting on.
/// </summary>
internal static class ThreadStacks
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    /// <summary>The tool's path: on PATH, or where <c>dotnet tool install -g</c> puts it; null when it is not installed.</summary>
    public static string? Tool { get; } = Find();

    /// <summary>Writes process <paramref name="pid"/>'s stacks to <paramref name="file"/>, or why they could not be taken.</summary>
    public static async Task WriteAsync(int pid, string file)
    {
        if (Tool is null)
        {
            await File.WriteAllTextAsync(file, "dotnet-stack is not installed (dotnet tool install -g dotnet-stack): no stacks taken\n");
            return;
        }

        var start = new ProcessStartInfo(Tool, ["report", "--process-id", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {Tool}");
        using var timeout = new CancellationTokenSource(Limit);
        try
        {
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            await File.WriteAllTextAsync(file, $"{await output}{await error}(dotnet-stack exited with {process.ExitCode})\n");
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await File.WriteAllTextAsync(file, $"dotnet-stack did not finish within {Limit.TotalSeconds:0} s for process {pid}\n");
        }
    }

    private static string? Find()
    {
        var home = Environment.GetEnvironmentVariable("HOME");
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append(home is null ? "" : Path.Combine(home, ".dotnet", "tools"));
        foreach (var directory in candidates)
        {
            var path = Path.Combine(directory, "dotnet-stack");
            if (directory.Length > 0 && File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }
}
