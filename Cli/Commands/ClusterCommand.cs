using System.CommandLine;
using Pyralog.Cli.Cluster;
using Pyralog.Cli.Output;
using Pyralog.Client;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Commands;

/// <summary>
/// <c>pyralog cluster status</c>: the silos, the replicas and leaders on each, and whether they are balanced;
/// <c>pyralog cluster drain SILO [--undo]</c>: an operator's drain of a silo's leaderships.
/// </summary>
internal static class ClusterCommand
{
    public static Command Create(ConnectionOptions connection, ClusterStatusSource source, SiloDrainer drainer, TextWriter output, TextWriter error)
    {
        var cluster = new Command("cluster", "The cluster's silos");
        cluster.Subcommands.Add(StatusCommand(connection, source, output, error));
        cluster.Subcommands.Add(DrainCommand(connection, drainer, output, error));
        return cluster;
    }

    private static Command DrainCommand(ConnectionOptions connection, SiloDrainer drainer, TextWriter output, TextWriter error)
    {
        var silo = new Argument<string>("silo") { Description = "The silo: its address as `cluster status` prints it, its endpoint (127.0.0.1:11111) or its name" };
        var undo = new Option<bool>("--undo") { Description = "End the drain: leader balancing may give the silo leaderships again" };
        var drain = new Command("drain", "Hand off the leadership of every replica on a silo and give it no more, then move its partition replicas to other silos (learner-first), so it can be stopped, upgraded or removed without an election; --undo or a restart ends the drain")
        {
            silo,
            undo,
        };
        drain.SetAction(async (result, cancellationToken) =>
        {
            if (ReadOptions(connection, result, error) is not { } options)
            {
                return ExitCodes.BadInput;
            }

            // Refused here, not by the admin grain, so a blank name is bad input before anything is sent.
            var target = result.GetValue(silo);
            if (string.IsNullOrWhiteSpace(target))
            {
                error.WriteLine("pyralog: the silo to drain is blank: give its address as `cluster status` prints it, its endpoint (127.0.0.1:11111) or its name.");
                return ExitCodes.BadInput;
            }

            var (answer, exit) = await AskAsync(() => drainer(options, target, !result.GetValue(undo), cancellationToken), error, cancellationToken);
            if (answer is null)
            {
                return exit;
            }

            if (!answer.Draining)
            {
                output.WriteLine($"silo {answer.Silo} is no longer draining; it leads {answer.StillLeading}");
                return ExitCodes.Ok;
            }

            // A negative count is unknown: the drain took effect but the metadata could not be read to count its replicas.
            var moving = answer.Replicas switch
            {
                0 => "; it hosts no replica",
                < 0 => "; its replicas (how many is unknown: the metadata could not be read) move to other silos now (`pyralog cluster status` shows them leave)",
                _ => $"; its {answer.Replicas} replicas move to other silos now (`pyralog cluster status` shows them leave)",
            };
            if (answer.StillLeading == 0)
            {
                output.WriteLine($"silo {answer.Silo} is draining: handed off the leadership of {answer.Led} replicas; it leads none{moving}");
                return ExitCodes.Ok;
            }

            output.WriteLine($"silo {answer.Silo} is draining: {answer.StillLeading} of the {answer.Led} replicas that led there still lead (no sibling on another silo took over within the drain timeout){moving}");
            return ExitCodes.NotFinished;
        });
        return drain;
    }

    private static Command StatusCommand(ConnectionOptions connection, ClusterStatusSource source, TextWriter output, TextWriter error)
    {
        var format = new Option<ClusterFormat>("--format")
        {
            Description = "text (default): a table of silos and the balance verdict; json: one object",
            HelpName = "text|json",
            CustomParser = r => OptionParsers.Choice(r, "--format", ClusterFormat.Text),
        };
        var status = new Command("status", "Print every silo with its status, the partition replicas it hosts and leads, and whether replicas and leaders are balanced (each silo within one of the mean)")
        {
            format,
        };
        status.SetAction(async (result, cancellationToken) =>
        {
            if (ReadOptions(connection, result, error) is not { } options)
            {
                return ExitCodes.BadInput;
            }

            var (report, exit) = await AskAsync(() => source(options, cancellationToken), error, cancellationToken);
            if (report is null)
            {
                return exit;
            }

            try
            {
                if (result.GetValue(format) == ClusterFormat.Json)
                {
                    ClusterText.WriteJson(output, report);
                }
                else
                {
                    ClusterText.WriteTable(output, report);
                }
            }
            catch (OutputClosedException)
            {
                // Nothing reads stdout any more (`| head`), as a table larger than the output's buffer may find.
            }

            return ExitCodes.Ok;
        });
        return status;
    }

    /// <summary>The connection options, or null after one line on <paramref name="error"/> naming what is wrong.</summary>
    private static PyralogClientOptions? ReadOptions(ConnectionOptions connection, ParseResult result, TextWriter error)
    {
        try
        {
            var options = connection.Read(result);
            options.Validate();
            return options;
        }
        catch (ArgumentException e)
        {
            LogSessions.ConnectFailure(e, error);
            return null;
        }
    }

    /// <summary>Asks the cluster; a failure is one line on <paramref name="error"/> and its exit code (the answer then null).</summary>
    private static async Task<(T? Answer, int Exit)> AskAsync<T>(Func<Task<T>> ask, TextWriter error, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            return (await ask(), ExitCodes.Ok);
        }
        catch (PyralogConnectionException e)
        {
            return (null, LogSessions.ConnectFailure(e, error));
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            return (null, LogSessions.Interrupted(error));
        }
        catch (Exception e)
        {
            error.WriteLine($"pyralog: {LogSessions.Describe(e)}");
            return (null, LogSessions.ExitCodeOf(e));
        }
    }
}
