using System.CommandLine;
using Pyralog.Cli.Cluster;
using Pyralog.Cli.Commands;
using Pyralog.Cli.Logs;

namespace Pyralog.Cli;

/// <summary>The <c>pyralog</c> command tree, writing to the given streams so tests can run it in-process.</summary>
public static class PyralogCommandLine
{
    /// <summary>
    /// No response files: an argument that starts with <c>@</c> is a value like any other (<c>--key @alice</c>), not
    /// the name of a file whose lines System.CommandLine would read in its place.
    /// </summary>
    private static readonly ParserConfiguration Parsing = new() { ResponseFileTokenReplacer = null };

    public static RootCommand Create(TextWriter output, TextWriter error) =>
        Create(Stream.Null, output, error, ClientLogSession.ConnectAsync, TimeProvider.System);

    internal static RootCommand Create(
        Stream input, TextWriter output, TextWriter error, LogSessionFactory sessions, TimeProvider time, ClusterStatusSource? cluster = null, SiloDrainer? drainer = null,
        CancellationToken outputGone = default)
    {
        var connection = new ConnectionOptions();
        var root = new RootCommand("pyralog: a distributed log on Orleans");
        connection.AddTo(root);
        root.Subcommands.Add(IdsCommand.Create(connection, output, error));
        root.Subcommands.Add(LogCommand.Create(connection, sessions, output, error));
        root.Subcommands.Add(ProduceCommand.Create(connection, sessions, input, output, error, time));
        root.Subcommands.Add(ConsumeCommand.Create(connection, sessions, output, error, outputGone));
        root.Subcommands.Add(ClusterCommand.Create(connection, cluster ?? ClientClusterStatus.GetAsync, drainer ?? ClientSiloDrain.DrainAsync, output, error));
        return root;
    }

    /// <summary>
    /// Runs a command. Bad input is one line on <paramref name="error"/> and exit code 2, never usage text on
    /// <paramref name="output"/>: a script's <c>ID=$(pyralog ids next)</c> must not capture help.
    /// </summary>
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error) =>
        RunAsync(args, Stream.Null, output, error, ClientLogSession.ConnectAsync, TimeProvider.System);

    /// <summary>
    /// Runs a command reading <paramref name="input"/> (stdin), with the cluster behind <paramref name="sessions"/> (and,
    /// for <c>cluster status</c> and <c>cluster drain</c>, <paramref name="cluster"/> and <paramref name="drainer"/>; the client's when null).
    /// With an <paramref name="interrupt"/> token the caller handles Ctrl+C and SIGTERM (the Orleans client's host
    /// would otherwise swallow them); without one System.CommandLine does. <paramref name="outputGone"/> is cancelled once
    /// nothing reads <paramref name="output"/> any more (see OutputReaderWatch): a consume waiting for records ends then.
    /// </summary>
    internal static Task<int> RunAsync(
        string[] args, Stream input, TextWriter output, TextWriter error, LogSessionFactory sessions, TimeProvider time, CancellationToken? interrupt = null,
        ClusterStatusSource? cluster = null, SiloDrainer? drainer = null, CancellationToken outputGone = default)
    {
        var result = Create(input, output, error, sessions, time, cluster, drainer, outputGone).Parse(args, Parsing);
        if (result.Errors is [var first, ..])
        {
            // "pyralog log remove x" says 'remove' is unknown rather than that a subcommand is missing.
            var unmatched = result.UnmatchedTokens is [var token, ..] ? result.Errors.FirstOrDefault(e => e.Message.Contains($"'{token}'", StringComparison.Ordinal)) : null;
            error.WriteLine($"pyralog: {(unmatched ?? first).Message}");
            return Task.FromResult(ExitCodes.BadInput);
        }

        return interrupt is { } signal
            ? result.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, ProcessTerminationTimeout = null }, signal)
            : result.InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
    }
}
