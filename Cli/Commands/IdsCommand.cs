using System.CommandLine;
using Pyralog.Cli.Output;
using Pyralog.Client;
using Pyralog.Client.Obelisk;
using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Cli.Commands;

/// <summary><c>pyralog ids next|decode</c>: Scarab IDs from the Pharaoh network.</summary>
internal static class IdsCommand
{
    /// <summary>The most IDs one <c>ids next</c> prints.</summary>
    public const int MaxCount = 10_000_000;

    public static Command Create(ConnectionOptions connection, TextWriter output, TextWriter error)
    {
        var ids = new Command("ids", "Scarab IDs: 64-bit, time-ordered, globally unique");

        var count = new Option<int>("--count", "-n")
        {
            Description = $"How many IDs to print (1..{MaxCount:N0})",
            DefaultValueFactory = _ => 1,
            CustomParser = r => OptionParsers.Integer(r, "--count", 1, MaxCount, 1),
        };
        var next = new Command("next", "Print new Scarab IDs, one per line") { count };
        next.SetAction(async (result, cancellationToken) =>
        {
            var n = result.GetValue(count);
            PyralogClient client;
            try
            {
                client = await PyralogClient.ConnectAsync(connection.Read(result), cancellationToken);
            }
            catch (Exception e) when (e is ArgumentException or PyralogConnectionException)
            {
                return LogSessions.ConnectFailure(e, error);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return LogSessions.Interrupted(error);
            }

            await using (client)
            {
                var generator = client.CreateIdGenerator(new ScarabIdGeneratorOptions
                {
                    BlockSize = Math.Min(n, ScarabId.SequencesPerMillisecond),
                    PrefetchBlocks = n > ScarabId.SequencesPerMillisecond ? 4 : 1,
                });
                var printed = 0;
                try
                {
                    try
                    {
                        for (; printed < n; printed++)
                        {
                            output.WriteLine((await generator.NextAsync(cancellationToken)).Value);
                        }
                    }
                    catch (Exception e) when (e is not OutputClosedException && cancellationToken.IsCancellationRequested)
                    {
                        // The IDs printed before stay on stdout, as after a loss.
                        await output.FlushAsync(CancellationToken.None);
                        return LogSessions.Interrupted(error);
                    }
                    catch (Exception e) when (e is not OutputClosedException)
                    {
                        await output.FlushAsync(CancellationToken.None);
                        error.WriteLine($"pyralog: lost the cluster after {printed} IDs: {LogSessions.FirstLine(e.Message)}");
                        return ExitCodes.ClusterUnreachable;
                    }

                    await output.FlushAsync(CancellationToken.None);
                }
                catch (OutputClosedException)
                {
                    // Nothing reads stdout any more (`| head -1`): the IDs it did not take are not wanted.
                    return ExitCodes.Ok;
                }
            }

            return ExitCodes.Ok;
        });

        var idArgument = new Argument<string>("id") { Description = "A Scarab ID in decimal" };
        var decode = new Command("decode", "Print the time, obelisk and sequence of a Scarab ID") { idArgument };
        decode.SetAction(result =>
        {
            var text = result.GetValue(idArgument)!;
            if (!ScarabId.TryParse(text, null, out var id))
            {
                error.WriteLine($"pyralog: '{text}' is not a Scarab ID: expected an unsigned 64-bit decimal number.");
                return ExitCodes.BadInput;
            }

            output.WriteLine($"id        {id}");
            output.WriteLine($"time      {id.Timestamp:yyyy-MM-ddTHH:mm:ss.fffZ}");
            output.WriteLine($"ms        {id.Milliseconds}");
            output.WriteLine($"obelisk   {id.ObeliskId}");
            output.WriteLine($"sequence  {id.Sequence}");
            return ExitCodes.Ok;
        });

        ids.Subcommands.Add(next);
        ids.Subcommands.Add(decode);
        return ids;
    }
}
