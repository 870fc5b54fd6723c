using System.CommandLine;
using Pyralog.Cli.Logs;
using Pyralog.Cli.Output;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Commands;

/// <summary><c>pyralog log create|list|describe|delete</c>: the logs of a cluster.</summary>
internal static class LogCommand
{
    public static Command Create(ConnectionOptions connection, LogSessionFactory sessions, TextWriter output, TextWriter error)
    {
        var log = new Command("log", "Create, list, describe and delete logs");
        log.Subcommands.Add(CreateCommand(connection, sessions, output, error));
        log.Subcommands.Add(ListCommand(connection, sessions, output, error));
        log.Subcommands.Add(DescribeCommand(connection, sessions, output, error));
        log.Subcommands.Add(DeleteCommand(connection, sessions, output, error));
        return log;
    }

    /// <summary>The log name argument every log command takes, checked before connecting.</summary>
    public static Argument<string> NameArgument() => new("name")
    {
        Description = "The log's name: 1..200 letters, digits, '.', '_' or '-'",
        CustomParser = OptionParsers.LogName,
    };

    private static Command CreateCommand(ConnectionOptions connection, LogSessionFactory sessions, TextWriter output, TextWriter error)
    {
        var name = NameArgument();
        var partitions = new Option<int>("--partitions", "-p")
        {
            Description = $"Partitions (1..{ReplicaGrainKey.MaxPartitions})",
            HelpName = "N",
            Required = true,
            CustomParser = r => OptionParsers.Integer(r, "--partitions", 1, ReplicaGrainKey.MaxPartitions, 1),
        };
        var rf = new Option<int>("--rf")
        {
            Description = $"Replication factor: replicas per partition, on distinct silos where there are enough (1..{ReplicaGrainKey.MaxReplicationFactor})",
            HelpName = "R",
            Required = true,
            CustomParser = r => OptionParsers.Integer(r, "--rf", 1, ReplicaGrainKey.MaxReplicationFactor, 1),
        };
        var durability = new Option<LogDurability>("--durability")
        {
            Description = "When an append is acknowledged: fsync (default: a majority synced it to disk) or os-cache (a majority wrote it to the page cache)",
            HelpName = "fsync|os-cache",
            CustomParser = r => OptionParsers.Durability(r, "--durability"),
        };
        var maxRecordBytes = new Option<int>("--max-record-bytes")
        {
            Description = $"Largest record accepted, in encoded bytes (64..{LogSettings.MaxBatchBytes})",
            HelpName = "B",
            DefaultValueFactory = _ => LogSettings.DefaultMaxRecordBytes,
            CustomParser = r => OptionParsers.Integer(r, "--max-record-bytes", 64, LogSettings.MaxBatchBytes, LogSettings.DefaultMaxRecordBytes),
        };
        var retentionAge = RetentionOptions.Age();
        var retentionBytes = RetentionOptions.Bytes();
        var create = new Command("create", "Create a log and print it (creating it again with the same shape prints it again)")
        {
            name, partitions, rf, durability, maxRecordBytes, retentionAge, retentionBytes,
        };
        create.SetAction((result, cancellationToken) => LogSessions.RunAsync(sessions, connection.Read(result), error, async session =>
        {
            var settings = new LogSettings
            {
                Durability = result.GetValue(durability), MaxRecordBytes = result.GetValue(maxRecordBytes),
                RetentionAge = result.GetValue(retentionAge), RetentionBytes = result.GetValue(retentionBytes),
            };
            var info = await session.CreateLogAsync(result.GetValue(name)!, result.GetValue(partitions), result.GetValue(rf), settings);
            LogTables.WriteLog(output, info);
            return ExitCodes.Ok;
        }, cancellationToken));
        return create;
    }

    private static Command ListCommand(ConnectionOptions connection, LogSessionFactory sessions, TextWriter output, TextWriter error)
    {
        var list = new Command("list", "List the logs: name, id, partitions, replication factor, durability, state");
        list.SetAction((result, cancellationToken) => LogSessions.RunAsync(sessions, connection.Read(result), error, async session =>
        {
            LogTables.WriteList(output, await session.ListLogsAsync());
            return ExitCodes.Ok;
        }, cancellationToken));
        return list;
    }

    private static Command DescribeCommand(ConnectionOptions connection, LogSessionFactory sessions, TextWriter output, TextWriter error)
    {
        var name = NameArgument();
        var describe = new Command("describe", "Print a log's settings (retention included) and, per partition, its leader, epoch, first retained and committed offsets, and replicas") { name };
        describe.SetAction((result, cancellationToken) => LogSessions.RunAsync(sessions, connection.Read(result), error, async session =>
        {
            var log = result.GetValue(name)!;
            if (await session.FindLogAsync(log) is null)
            {
                return LogSessions.NoSuchLog(error, log);
            }

            LogTables.WriteDescription(output, await session.DescribeLogAsync(log));
            return ExitCodes.Ok;
        }, cancellationToken));
        return describe;
    }

    private static Command DeleteCommand(ConnectionOptions connection, LogSessionFactory sessions, TextWriter output, TextWriter error)
    {
        var name = NameArgument();
        var delete = new Command("delete", "Delete a log and its records") { name };
        delete.SetAction((result, cancellationToken) => LogSessions.RunAsync(sessions, connection.Read(result), error, async session =>
        {
            var log = result.GetValue(name)!;
            if (await session.FindLogAsync(log) is null)
            {
                return LogSessions.NoSuchLog(error, log);
            }

            await session.DeleteLogAsync(log);
            output.WriteLine($"deleted log {log}");
            return ExitCodes.Ok;
        }, cancellationToken));
        return delete;
    }
}
