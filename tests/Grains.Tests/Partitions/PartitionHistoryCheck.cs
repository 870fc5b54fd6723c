using System.Text;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>
/// Checks one replica's full read of a partition against what producers saw: offsets dense from 0; every acknowledged
/// record exactly once, at its acknowledged (epoch, offset); nothing that was never produced (values are unique);
/// an append whose outcome was unknown appears at most once.
/// </summary>
internal static class PartitionHistoryCheck
{
    public static void Check(IReadOnlyList<(string Value, AppendAck Ack)> acked, IReadOnlyList<string> unknown, IReadOnlyList<CommittedRecord> records)
    {
        var seen = new Dictionary<string, CommittedRecord>(StringComparer.Ordinal);
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            Assert.True((ulong)i == record.Offset, $"offsets are not dense: position {i} holds offset {record.Offset}");
            var value = Encoding.UTF8.GetString(record.Value);
            Assert.True(seen.TryAdd(value, record), $"'{value}' appears twice (offsets {seen.GetValueOrDefault(value)?.Offset} and {record.Offset})");
        }

        var produced = new HashSet<string>(unknown, StringComparer.Ordinal);
        foreach (var (value, ack) in acked)
        {
            produced.Add(value);
            Assert.True(seen.TryGetValue(value, out var record), $"acknowledged '{value}' at ({ack.Epoch}, {ack.FirstOffset}) is missing");
            Assert.True(record.Offset == ack.FirstOffset && record.Epoch == ack.Epoch,
                $"acknowledged '{value}' at ({ack.Epoch}, {ack.FirstOffset}) is at ({record.Epoch}, {record.Offset})");
        }

        foreach (var value in seen.Keys)
        {
            Assert.True(produced.Contains(value), $"'{value}' was never produced");
        }
    }
}
