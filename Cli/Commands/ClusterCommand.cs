using System.CommandLine;
using Pyralog.Cli.Cluster;
using Pyralog.Cli.Output;
using Pyralog.Client;

namespace Pyralog.Cli.Commands;

/// <summary><c>pyralog cluster status</c>: the silos, the replicas and leaders on each, and whether they are balanced.</summary>
internal static class ClusterCommand
{
    public static Command Create(ConnectionOptions connection, ClusterStatusSource source, TextWriter output, TextWriter error)
    {
        var cluster = new Command("cluster", "The cluster's silos");
        cluster.Subcommands.Add(StatusCommand(connection, source, output, error));
        return cluster;
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
            Client.Cluster.ClusterStatus report;
            try
            {
                var options = connection.Read(result);
                options.Validate();
                report = await source(options, cancellationToken);
            }
            catch (Exception e) when (e is ArgumentException or PyralogConnectionException)
            {
                return LogSessions.ConnectFailure(e, error);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                error.WriteLine("pyralog: interrupted");
                return ExitCodes.Interrupted;
            }
            catch (Exception e)
            {
                error.WriteLine($"pyralog: {LogSessions.Describe(e)}");
                return LogSessions.ExitCodeOf(e);
            }

            if (result.GetValue(format) == ClusterFormat.Json)
            {
                ClusterText.WriteJson(output, report);
            }
            else
            {
                ClusterText.WriteTable(output, report);
            }

            return ExitCodes.Ok;
        });
        return status;
    }
}
