using System.Collections;

namespace Pyralog.Grains.Replication;

/// <summary>
/// What a replica's log entries are scoped with (see <see cref="ReplicaLogger"/>): structured properties for JSON
/// logs, and "replica log/partition/slot epoch N" for text.
/// </summary>
internal readonly record struct ReplicaGrainKeyScope(ulong Log, int Partition, int Replica, long Epoch) : IReadOnlyList<KeyValuePair<string, object>>
{
    public int Count => 4;

    public KeyValuePair<string, object> this[int index] => index switch
    {
        0 => new("pyralog.log.id", Log),
        1 => new("pyralog.partition", Partition),
        2 => new("pyralog.replica", Replica),
        3 => new("pyralog.epoch", Epoch),
        _ => throw new ArgumentOutOfRangeException(nameof(index), index, "a replica scope has 4 properties"),
    };

    public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => $"replica {Log}/{Partition}/{Replica} epoch {Epoch}";
}
