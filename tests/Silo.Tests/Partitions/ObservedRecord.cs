using System.Text;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Silo.Tests.Partitions;

/// <summary>A record as a read returned it: its address in the partition and its (self-describing, unique) value.</summary>
internal readonly record struct ObservedRecord(ulong Epoch, ulong Offset, string Value)
{
    public static ObservedRecord From(CommittedRecord record) => new(record.Epoch, record.Offset, Encoding.UTF8.GetString(record.Value));

    public override string ToString() => $"'{Value}' at offset {Offset} (epoch {Epoch})";
}
