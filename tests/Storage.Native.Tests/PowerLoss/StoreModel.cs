using System.Text;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>What a store should hold: the log's bounds and records (epoch 1) and the key/value space.</summary>
internal sealed class StoreModel
{
    /// <summary>The log id the power-loss workloads write.</summary>
    public const ulong LogId = 1;

    public ulong First { get; set; }

    public ulong Next { get; set; }

    public SortedDictionary<ulong, byte[]> Log { get; private init; } = [];

    public SortedDictionary<string, string> Kv { get; private init; } = new(StringComparer.Ordinal);

    public StoreModel Clone() => new() { First = First, Next = Next, Log = new(Log), Kv = new(Kv, StringComparer.Ordinal) };

    /// <summary>How <paramref name="store"/> differs from this model, or null if it does not.</summary>
    public string? Difference(PyramidStore store)
    {
        if (store.GetLogBounds(LogId).First != First || store.GetLogBounds(LogId).Next != Next)
        {
            return $"log [{store.GetLogBounds(LogId).First}, {store.GetLogBounds(LogId).Next}) != [{First}, {Next})";
        }

        using (var cursor = store.ReadLog(LogId, 0))
        {
            var expected = First;
            while (cursor.MoveNext())
            {
                if (cursor.Offset != expected || cursor.Epoch != 1 || !cursor.Payload.SequenceEqual(Log[expected]))
                {
                    return $"record {cursor.Offset} differs (expected offset {expected})";
                }

                expected++;
            }

            if (expected != Next)
            {
                return $"scan ended at {expected}, log ends at {Next}";
            }
        }

        var actual = new List<string>();
        using (var scan = store.ScanKvPrefix("k"u8))
        {
            while (scan.MoveNext())
            {
                actual.Add(Encoding.UTF8.GetString(scan.Key) + "=" + Encoding.UTF8.GetString(scan.Value));
            }
        }

        var model = Kv.Select(p => p.Key + "=" + p.Value).ToList();
        return model.SequenceEqual(actual) ? null : $"kv [{string.Join(",", actual)}] != [{string.Join(",", model)}]";
    }
}
