using Pyralog.Client.Logs;
using System.CommandLine;
using System.Threading.Channels;
using Pyralog.Cli.Logs;
using Pyralog.Cli.Output;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Commands;

/// <summary>
/// <c>pyralog consume NAME</c>: prints the committed records of one partition or of all. Without <c>--follow</c> it
/// stops at the committed end each partition had when it started; with it, it waits for more until Ctrl+C.
/// </summary>
internal static class ConsumeCommand
{
    /// <param name="outputGone">Cancelled once nothing reads <paramref name="output"/>: the consume ends quietly then, even
    /// while it waits for the next record of a quiet log.</param>
    public static Command Create(ConnectionOptions connection, LogSessionFactory sessions, TextWriter output, TextWriter error, CancellationToken outputGone = default)
    {
        var name = LogCommand.NameArgument();
        var partition = new Option<int?>("--partition")
        {
            Description = "The partition to read (default: all, interleaved)",
            HelpName = "P",
            CustomParser = r => OptionParsers.Integer(r, "--partition", 0, ReplicaGrainKey.MaxPartitions - 1, 0),
        };
        var from = new Option<ConsumeStart>("--from")
        {
            Description = "Where to start in each partition: earliest (default), latest, an offset, or an ISO-8601 time (UTC unless it says otherwise)",
            HelpName = "earliest|latest|OFFSET|TIME",
            CustomParser = r => OptionParsers.From(r, "--from"),
        };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep waiting for new records (until Ctrl+C) instead of stopping at the end" };
        var format = new Option<RecordFormat>("--format")
        {
            Description = "text (default): the value per line (base64: for bytes that are not printable UTF-8); json: an object per line",
            HelpName = "text|json",
            CustomParser = r => OptionParsers.Choice(r, "--format", RecordFormat.Text),
        };
        var max = new Option<int?>("--max", "-n")
        {
            Description = "Stop after this many records",
            HelpName = "N",
            CustomParser = r => OptionParsers.Integer(r, "--max", 1, int.MaxValue, 1),
        };
        var consume = new Command("consume", "Print the committed records of a log") { name, partition, from, follow, format, max };
        consume.SetAction((result, cancellationToken) => LogSessions.RunAsync(sessions, connection.Read(result), error, async session =>
        {
            var log = result.GetValue(name)!;
            var info = await session.FindLogAsync(log);
            if (info is null)
            {
                return LogSessions.NoSuchLog(error, log);
            }

            var only = result.GetValue(partition);
            if (only >= info.Partitions)
            {
                error.WriteLine($"pyralog: --partition {only} is out of range: log '{log}' has {LogText.Plural(info.Partitions, "partition")} (0..{info.Partitions - 1}).");
                return ExitCodes.BadInput;
            }

            var start = result.GetValue(from);
            var following = result.GetValue(follow);
            var description = await session.DescribeLogAsync(log);
            var partitions = description.Partitions.Where(p => only is null || p.Partition == only).OrderBy(p => p.Partition).ToArray();

            // Every partition is asked at once: a replica that does not answer costs its timeout once, not once per partition.
            var asking = Task.WhenAll(partitions.Select(p => BoundsAsync(session, info, p, cancellationToken)));
            var finding = start.Kind == ConsumeStartKind.Time
                ? Task.WhenAll(partitions.Select(p => session.FindOffsetAsync(info, p.Partition, start.Time, cancellationToken)))
                : null;
            var bounds = await asking;
            var times = finding is null ? null : await finding;
            var reads = new List<PartitionRead>();
            for (var i = 0; i < partitions.Length; i++)
            {
                var p = partitions[i].Partition;
                if (bounds[i].Failure is { } failure)
                {
                    // Reading up to what the followers applied could drop committed records without a word (a backup
                    // missing some), and no end at all would skip the partition.
                    error.WriteLine($"pyralog: partition {p} of log '{log}' has no leader that answers, so its committed end is unknown: {LogSessions.FirstLine(failure.Message)}");
                    return ExitCodes.ClusterUnreachable;
                }

                var (first, end) = bounds[i].Bounds;
                ulong position;
                switch (start.Kind)
                {
                    case ConsumeStartKind.Offset when start.Offset > end:
                        error.WriteLine($"pyralog: --from {start.Offset} is past the end of partition {p} of log '{log}' (its next offset is {end}).");
                        return ExitCodes.BadInput;
                    case ConsumeStartKind.Offset when start.Offset < first:
                        error.WriteLine($"pyralog: --from {start.Offset} is before the first retained offset of partition {p} of log '{log}' ({first}).");
                        return ExitCodes.BadInput;
                    case ConsumeStartKind.Offset:
                        position = start.Offset;
                        break;
                    case ConsumeStartKind.Time:
                        position = times![i];
                        break;
                    case ConsumeStartKind.Latest:
                        position = end;
                        break;
                    default:
                        position = first;
                        break;
                }

                if (following || position < end)
                {
                    // A time resolves to an offset once, so "stop at the end" and the reads agree on where they begin.
                    var at = start.Kind == ConsumeStartKind.Time ? ConsumeStart.At(position) : start;
                    reads.Add(new PartitionRead(p, at, following ? null : end));
                }
            }

            var writer = new RecordWriter(output, result.GetValue(format));
            var limit = result.GetValue(max) ?? int.MaxValue;
            var printed = 0;
            using var reading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, outputGone);
            try
            {
                await foreach (var record in MergeAsync(session, log, reads, reading.Token))
                {
                    writer.Write(record);
                    if (following)
                    {
                        await output.FlushAsync(CancellationToken.None);
                    }

                    if (++printed == limit)
                    {
                        break;
                    }
                }
            }
            catch (Exception e) when (e is OutputClosedException || outputGone.IsCancellationRequested)
            {
                // Nothing reads stdout any more (`| head`): as at the end, quietly.
                return ExitCodes.Ok;
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                // Ctrl+C: how a --follow ends. What was printed is the output.
            }
            catch (Exception e)
            {
                await output.FlushAsync(CancellationToken.None);
                error.WriteLine($"pyralog: after {LogText.Plural(printed, "record")}: {LogSessions.Describe(e)}");
                return LogSessions.ExitCodeOf(e);
            }

            await output.FlushAsync(CancellationToken.None);
            return ExitCodes.Ok;
        }, cancellationToken));
        return consume;
    }

    /// <summary>
    /// The partition's first retained offset and committed end as its leader confirms them with a linearizable read; the
    /// failure when no replica answers as the leader. Never the description's: a leader elected moments ago has applied
    /// only up to what it knows is committed, which lags what its predecessor acknowledged until its own first entry
    /// commits (partitions do not broadcast commits), so the records acknowledged last would be left out.
    /// </summary>
    private static async Task<(PartitionBounds Bounds, Exception? Failure)> BoundsAsync(
        ILogSession session, LogInfo info, PartitionDescription partition, CancellationToken cancellationToken)
    {
        try
        {
            return (await session.ReadBoundsAsync(info, partition.Partition, cancellationToken), null);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return (default, e);
        }
    }

    /// <summary>
    /// The records of the partitions as they arrive, each partition in offset order, each stopping before its
    /// <see cref="PartitionRead.End"/> (when it has one). A failing partition ends the whole at once with its exception.
    /// </summary>
    private static async IAsyncEnumerable<ConsumedRecord> MergeAsync(
        ILogSession session, string log, IReadOnlyList<PartitionRead> reads, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (reads.Count == 0)
        {
            yield break;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var channel = Channel.CreateBounded<ConsumedRecord>(new BoundedChannelOptions(1024) { SingleReader = true });
        var readers = reads.Select(read => ReadPartitionAsync(session, log, read, channel.Writer, stop.Token)).ToArray();
        var all = Task.WhenAll(readers).ContinueWith(
            t => channel.Writer.TryComplete(t.Exception?.InnerException),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        try
        {
            await foreach (var record in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return record;
            }
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await all;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static async Task ReadPartitionAsync(ILogSession session, string log, PartitionRead read, ChannelWriter<ConsumedRecord> writer, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var record in session.ConsumeAsync(log, read.Partition, read.From, read.End, cancellationToken))
            {
                await writer.WriteAsync(record, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped: --max reached, Ctrl+C, or another partition failed.
        }
        catch (Exception e)
        {
            // At once: with --follow the other partitions never finish.
            writer.TryComplete(e);
        }
    }
}
