using System.CommandLine;
using System.Globalization;
using System.Text;
using Pyralog.Cli.Input;
using Pyralog.Cli.Logs;
using Pyralog.Cli.Output;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Commands;

/// <summary>
/// <c>pyralog produce NAME</c>: a record per line of the input, sent through the batching producer. The summary is one
/// line on stderr; with <c>--verbose</c> each record's <c>partition/epoch/offset</c> (or <c>-</c> when it was not
/// acknowledged) is a line on stdout, in input order. Stdin that fails to read is bad input (exit 2) after the lines read
/// before were sent and waited for, unless a record failed too (that failure's exit code).
/// </summary>
internal static class ProduceCommand
{
    /// <summary>Line ranges a failure summary names before it only counts the rest.</summary>
    private const int MaxRangesNamed = 8;

    public static Command Create(ConnectionOptions connection, LogSessionFactory sessions, Stream input, TextWriter output, TextWriter error, TimeProvider time)
    {
        var name = LogCommand.NameArgument();
        var key = new Option<string?>("--key", "-k") { Description = "The key of every record (UTF-8); it picks the partition unless --partition does" };
        var partition = new Option<int?>("--partition")
        {
            Description = "The partition to append to (default: by key, or the client's choice without one)",
            HelpName = "P",
            CustomParser = r => OptionParsers.Integer(r, "--partition", 0, ReplicaGrainKey.MaxPartitions - 1, 0),
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print partition/epoch/offset of each record on stdout, in input order" };
        var produce = new Command("produce", "Append a record per line of stdin (UTF-8 or any bytes, without the newline; empty lines are empty records)")
        {
            name, key, partition, verbose,
        };
        produce.SetAction((result, cancellationToken) => LogSessions.RunAsync(sessions, connection.Read(result), error, async session =>
        {
            var log = result.GetValue(name)!;
            var info = await session.FindLogAsync(log);
            if (info is null)
            {
                return LogSessions.NoSuchLog(error, log);
            }

            var target = result.GetValue(partition);
            if (target >= info.Partitions)
            {
                error.WriteLine($"pyralog: --partition {target} is out of range: log '{log}' has {LogText.Plural(info.Partitions, "partition")} (0..{info.Partitions - 1}).");
                return ExitCodes.BadInput;
            }

            var keyText = result.GetValue(key);
            var run = new ProduceRun(log, target, keyText is null ? null : Encoding.UTF8.GetBytes(keyText), info.Settings.MaxRecordBytes, result.GetValue(verbose), output);
            var started = time.GetTimestamp();
            await using (var producer = session.CreateProducer())
            {
                // A line longer than a record may be is refused before it is read whole: input without newlines never fills the memory.
                await run.SendAsync(producer, new LineReader(input, info.Settings.MaxRecordBytes), cancellationToken);
            }

            var seconds = time.GetElapsedTime(started).TotalSeconds.ToString("0.0##", CultureInfo.InvariantCulture);
            await output.FlushAsync(CancellationToken.None);
            var stopped = run.InputFailure is { } unreadable ? $" (reading stdin failed at line {run.Read + 1}: {LogSessions.FirstLine(unreadable.Message)})"
                : run.StoppedByClosedOutput ? $" (stopped reading the input after line {run.Read}: stdout was closed)"
                : run.StoppedEarly ? $" (stopped reading the input after line {run.Read})"
                : "";
            if (run.Failure is null && run.InputFailure is not null)
            {
                error.WriteLine($"pyralog: produced {LogText.Plural(run.Acknowledged, "record")} to {log} in {seconds} s{stopped}");
                return ExitCodes.BadInput;
            }

            if (run.Failure is null)
            {
                error.WriteLine($"produced {LogText.Plural(run.Acknowledged, "record")} to {log} in {seconds} s{stopped}");
                return ExitCodes.Ok;
            }

            error.WriteLine($"pyralog: produced {run.Acknowledged} of {LogText.Plural(run.Read, "record")} to {log} in {seconds} s{stopped}; " +
                $"not acknowledged: {Lines(run.Failed)}: {LogSessions.Describe(run.Failure)}");
            return LogSessions.ExitCodeOf(run.Failure);
        }, cancellationToken));
        return produce;
    }

    /// <summary>Line numbers as ranges: <c>line 3</c>, <c>lines 3, 5-9</c>; after a few ranges, how many more lines.</summary>
    internal static string Lines(IReadOnlyList<long> lines)
    {
        var ranges = new List<string>();
        var named = 0;
        for (var i = 0; i < lines.Count && ranges.Count < MaxRangesNamed;)
        {
            var j = i;
            while (j + 1 < lines.Count && lines[j + 1] == lines[j] + 1)
            {
                j++;
            }

            ranges.Add(i == j ? $"{lines[i]}" : $"{lines[i]}-{lines[j]}");
            named += j - i + 1;
            i = j + 1;
        }

        var rest = lines.Count - named;
        return (lines.Count == 1 ? "line " : "lines ") + string.Join(", ", ranges) + (rest > 0 ? $" and {rest} more" : "");
    }
}
