using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Silo.Tests.Partitions;

/// <summary>
/// One append attempt of a <see cref="PartitionHistory"/>: the values it carried in order, the replica it went to, and
/// its outcome (with the acknowledgement when there was one). Values are never reused by a later attempt, so a retried
/// append cannot be mistaken for a duplicate.
/// </summary>
internal sealed record AppendEvent(int Partition, string Replica, string[] Values, AppendOutcome Outcome, AppendAck? Ack = null)
{
    public override string ToString() =>
        $"append [{Values[0]}{(Values.Length > 1 ? $" .. {Values[^1]}" : "")}] ({Values.Length}) to {Replica}: {Outcome}" +
        (Ack is { } ack ? $" epoch {ack.Epoch} offsets {ack.FirstOffset}..{ack.FirstOffset + (ulong)ack.Count - 1}" : "");
}
