using System.Globalization;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Output;

/// <summary>What <c>pyralog log create|list|describe</c> print.</summary>
internal static class LogTables
{
    /// <summary>One log, a setting per line (as <c>ids decode</c> prints an ID).</summary>
    public static void WriteLog(TextWriter output, LogInfo log)
    {
        var table = new TextTable("log", log.Name);
        AddSettings(table, log);
        table.WriteTo(output);
    }

    public static void WriteList(TextWriter output, IEnumerable<LogInfo> logs)
    {
        var table = new TextTable("name", "id", "partitions", "rf", "durability", "state");
        foreach (var log in logs.OrderBy(l => l.Name, StringComparer.Ordinal))
        {
            table.Add(log.Name, Number(log.Id), Number(log.Partitions), Number(log.ReplicationFactor), LogText.Durability(log.Settings.Durability), LogText.State(log.State));
        }

        table.WriteTo(output);
    }

    /// <summary>
    /// The log's settings, then a row per replica (the partition's leader, epoch and offsets on its first row), then a
    /// note per partition without a leader, per replica that did not answer, and for partitions whose replicas share a silo.
    /// </summary>
    public static void WriteDescription(TextWriter output, LogDescription description)
    {
        var log = description.Log;
        var settings = new TextTable("log", log.Name);
        AddSettings(settings, log);
        settings.WriteTo(output);
        output.WriteLine();

        var table = new TextTable("partition", "leader", "epoch", "first", "committed", "replica", "silo", "role", "next", "lag");
        var notes = new List<string>();
        foreach (var partition in description.Partitions.OrderBy(p => p.Partition))
        {
            var leader = partition.LeaderReplica < 0 ? "-" : partition.LeaderSilo ?? "-";
            string[] first = [Number(partition.Partition), leader, Number(partition.Epoch), Number(partition.FirstOffset), Number(partition.CommittedNext)];
            string[] blank = ["", "", "", "", ""];
            if (partition.LeaderReplica < 0)
            {
                notes.Add($"note: partition {partition.Partition} has no leader that answered (an election may be running)");
            }

            var row = 0;
            foreach (var replica in partition.Replicas.OrderBy(r => r.Replica))
            {
                string[] cells = replica.Error is null
                    ? [Number(replica.Replica), replica.Silo, LogText.Role(replica.Role), Number(replica.NextOffset), Number(replica.Lag)]
                    : [Number(replica.Replica), "-", "no answer", "-", "-"];
                table.Add([.. row++ == 0 ? first : blank, .. cells]);
                if (replica.Error is not null)
                {
                    notes.Add($"note: replica {replica.Replica} of partition {partition.Partition} did not answer: {Commands.LogSessions.FirstLine(replica.Error)}");
                }
            }
        }

        table.WriteTo(output);
        var shared = description.Partitions.Where(p => p.SharedSilos).Select(p => p.Partition).Order().ToList();
        if (shared.Count > 0)
        {
            var which = shared.Count == 1 ? $"partition {shared[0]} has" : $"partitions {string.Join(", ", shared)} have";
            notes.Add($"note: {which} replicas sharing a silo: fewer silo losses than RF {log.ReplicationFactor} promises lose a majority " +
                "(fewer silos than replicas, or after failures)");
        }

        foreach (var note in notes)
        {
            output.WriteLine(note);
        }
    }

    private static void AddSettings(TextTable table, LogInfo log)
    {
        table.Add("id", Number(log.Id));
        table.Add("partitions", Number(log.Partitions));
        table.Add("rf", Number(log.ReplicationFactor));
        table.Add("durability", LogText.Durability(log.Settings.Durability));
        table.Add("max record", $"{Number(log.Settings.MaxRecordBytes)} bytes");
        table.Add("retention age", log.Settings.RetentionAge is { } age ? LogSettings.FormatAge(age) : "forever");
        table.Add("retention bytes", log.Settings.RetentionBytes is { } bytes ? $"{Number(bytes)} bytes per partition" : "unlimited");
        table.Add("state", LogText.State(log.State));
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Number(ulong value) => value.ToString(CultureInfo.InvariantCulture);
}
