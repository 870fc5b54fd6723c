using System.Buffers.Binary;
using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>
/// The simulator's application: a map of small keys to values, driven by committed Put entries. Commands are
/// [op id:8][key:1][value:8]; the op id makes every command unique so the safety monitor can compare entries.
/// </summary>
public sealed class KvStateMachine
{
    private readonly Dictionary<byte, long> _values = [];

    public long Applied { get; private set; }

    public static byte[] EncodePut(long opId, byte key, long value)
    {
        var data = new byte[17];
        BinaryPrimitives.WriteInt64LittleEndian(data, opId);
        data[8] = key;
        BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(9), value);
        return data;
    }

    public static long OpIdOf(ReadOnlySpan<byte> data) => data.Length == 17 ? BinaryPrimitives.ReadInt64LittleEndian(data) : 0;

    public long Get(byte key) => _values.TryGetValue(key, out var v) ? v : 0;

    public void Apply(in LogEntry entry)
    {
        if (entry.Index != Applied + 1)
        {
            throw new SimulationFailure($"apply gap: entry {entry.Index} after {Applied}");
        }

        Applied = entry.Index;
        if (entry.Type == EntryType.Normal && entry.Data.Length == 17)
        {
            var span = entry.Data.Span;
            _values[span[8]] = BinaryPrimitives.ReadInt64LittleEndian(span[9..]);
        }
    }

    public byte[] Encode()
    {
        var data = new byte[4 + _values.Count * 9];
        BinaryPrimitives.WriteInt32LittleEndian(data, _values.Count);
        var at = 4;
        foreach (var (k, v) in _values.OrderBy(kv => kv.Key))
        {
            data[at] = k;
            BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(at + 1), v);
            at += 9;
        }

        return data;
    }

    public void Restore(RaftSnapshot snapshot)
    {
        _values.Clear();
        var span = snapshot.Data.Span;
        if (span.Length >= 4)
        {
            var count = BinaryPrimitives.ReadInt32LittleEndian(span);
            for (var i = 0; i < count; i++)
            {
                _values[span[4 + i * 9]] = BinaryPrimitives.ReadInt64LittleEndian(span[(5 + i * 9)..]);
            }
        }

        Applied = snapshot.Index;
    }
}
