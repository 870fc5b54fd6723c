using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Pyralog.Storage.Native.Keys;
using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Memtables;
using Pyralog.Storage.Native.Wal;

namespace Pyralog.Storage.Native;

/// <summary>Applying WAL frames to the memtable and the log states: the same code on the live path and on
/// replay, so recovery rebuilds exactly the state (retention markers included) the live store had.</summary>
public sealed partial class PyramidStore
{
    private const int MarkerValueBytes = 24; // cumulative bytes before the batch, batch time, time of the record before it

    private readonly byte[] _keyScratch = new byte[WriteBatch.MaxKeyBytes + 1];

    void IWalFrameSink.ApplyFrame(ulong sequence, long timestampMs, int opCount, ReadOnlySpan<byte> ops, ReadOnlyMemory<byte> source, int opsPosition)
    {
        ApplyFrame(sequence, timestampMs, opCount, ops, source, opsPosition);
        if (_active.ApproximateBytes >= _options.MemtableBytes)
        {
            FreezeActive(); // flushed once recovery is done; its WAL files stay until then
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot on recovery: skip tier-0 code
    /// <param name="source">When replaying, the mapped WAL holding <paramref name="ops"/>: log records are
    /// referenced there instead of copied. Empty on the live path.</param>
    private void ApplyFrame(ulong sequence, long timestampMs, int opCount, ReadOnlySpan<byte> ops, ReadOnlyMemory<byte> source, int opsPosition)
    {
        var memtable = _active;
        var at = 0;
        for (var i = 0; i < opCount; i++)
        {
            switch ((WalOp)ops[at])
            {
                case WalOp.LogAppend:
                    {
                        var log = Touch(BinaryPrimitives.ReadUInt64LittleEndian(ops[(at + 1)..]));
                        var first = BinaryPrimitives.ReadUInt64LittleEndian(ops[(at + 9)..]);
                        var count = BinaryPrimitives.ReadInt32LittleEndian(ops[(at + 17)..]);
                        at += 21;
                        BeginAppend(log, first, timestampMs, sequence);
                        ref var state = ref log.Writer;
                        for (var k = 0; k < count; k++)
                        {
                            var offset = first + (ulong)k;
                            var length = BinaryPrimitives.ReadInt32LittleEndian(ops[at..]);
                            if (source.IsEmpty)
                            {
                                memtable.AppendLog(log.Id, BinaryPrimitives.ReadUInt64LittleEndian(ops[(at + 4)..]), offset, ops.Slice(at + 12, length), sequence);
                            }
                            else
                            {
                                memtable.AppendLogReference(log.Id, offset, source, opsPosition + at, length, sequence);
                            }

                            state.Next = offset + 1;
                            state.Cumulative += length;
                            at += 12 + length;
                        }

                        state.LastAppendTimeMs = timestampMs;
                        break;
                    }

                case WalOp.Put:
                    {
                        var keyLength = BinaryPrimitives.ReadInt32LittleEndian(ops[(at + 1)..]);
                        var valueLength = BinaryPrimitives.ReadInt32LittleEndian(ops[(at + 5)..]);
                        memtable.Put(KvKey(ops.Slice(at + 9, keyLength)), ops.Slice(at + 9 + keyLength, valueLength), tombstone: false, sequence);
                        at += 9 + keyLength + valueLength;
                        break;
                    }

                case WalOp.Delete:
                    {
                        var keyLength = BinaryPrimitives.ReadInt32LittleEndian(ops[(at + 1)..]);
                        memtable.Put(KvKey(ops.Slice(at + 5, keyLength)), [], tombstone: true, sequence);
                        at += 5 + keyLength;
                        break;
                    }

                case WalOp.TruncateSuffix:
                    ApplyTruncateSuffix(Touch(BinaryPrimitives.ReadUInt64LittleEndian(ops[(at + 1)..])), BinaryPrimitives.ReadUInt64LittleEndian(ops[(at + 9)..]), sequence);
                    at += 17;
                    break;

                case WalOp.TruncatePrefix:
                    ApplyTruncatePrefix(Touch(BinaryPrimitives.ReadUInt64LittleEndian(ops[(at + 1)..])), BinaryPrimitives.ReadUInt64LittleEndian(ops[(at + 9)..]), sequence);
                    at += 17;
                    break;

                default:
                    throw new InvalidDataException($"unknown WAL operation {ops[at]} in frame {sequence}");
            }
        }

        _sequence = sequence;
        memtable.MaxSequence = sequence;
    }

    /// <summary>The log an operation applies to, remembered for the next publish.</summary>
    private StoredLog Touch(ulong id)
    {
        // Live writes reserved their log before queueing; replay meets logs the manifest may not know.
        var log = _logs.GetOrAdd(id, static key => new StoredLog(key, LogSpaceState.Empty));
        if (log.TouchedInGroup != _groupNumber)
        {
            log.TouchedInGroup = _groupNumber;
            _touched.Add(log);
        }

        return log;
    }

    private ReadOnlySpan<byte> KvKey(ReadOnlySpan<byte> userKey)
    {
        _keyScratch[0] = KeyCodec.KvPrefix;
        userKey.CopyTo(_keyScratch.AsSpan(1));
        return _keyScratch.AsSpan(0, userKey.Length + 1);
    }

    /// <summary>Adopts the first offset of a new log (the commit loop's reservation allows no other gap) and drops a
    /// retention marker when one is due.
    /// Deterministic in (state, frame time), so replay recreates exactly the same markers.</summary>
    private void BeginAppend(StoredLog log, ulong offset, long timestampMs, ulong sequence)
    {
        ref var state = ref log.Writer;
        if (state.IsEmpty && offset != state.Next)
        {
            state.First = offset;
            state.Next = offset;
            state.FirstCumulative = state.Cumulative;
        }

        if (state.LastMarkerTimeMs == long.MinValue
            || state.Cumulative - state.LastMarkerCumulative >= _options.RetentionMarkerBytes
            || timestampMs - state.LastMarkerTimeMs >= (long)_options.RetentionMarkerInterval.TotalMilliseconds)
        {
            Span<byte> key = stackalloc byte[KeyCodec.MarkerKeyLength];
            Span<byte> value = stackalloc byte[MarkerValueBytes];
            KeyCodec.WriteMarkerKey(key, log.Id, offset);
            BinaryPrimitives.WriteInt64LittleEndian(value, state.Cumulative);
            BinaryPrimitives.WriteInt64LittleEndian(value[8..], timestampMs);
            BinaryPrimitives.WriteInt64LittleEndian(value[16..], state.LastAppendTimeMs);
            _active.Put(key, value, tombstone: false, sequence);
            state.LastMarkerCumulative = state.Cumulative;
            state.LastMarkerTimeMs = timestampMs;
        }
    }

    private void ApplyTruncateSuffix(StoredLog log, ulong offset, ulong sequence)
    {
        ref var state = ref log.Writer;
        if (offset >= state.Next)
        {
            return;
        }

        var view = WriterView(log, sequence);
        List<(ulong Offset, long Cumulative, long PreviousAppendTime)> markers;
        try
        {
            markers = ReadMarkers(view, log.Id, state.First, ulong.MaxValue);
        }
        finally
        {
            view.Release();
        }

        var cumulative = state.FirstCumulative;
        Span<byte> key = stackalloc byte[KeyCodec.MarkerKeyLength];
        foreach (var marker in markers)
        {
            if (marker.Offset >= offset)
            {
                KeyCodec.WriteMarkerKey(key, log.Id, marker.Offset);
                _active.Put(key, [], tombstone: true, sequence);
            }
            else
            {
                cumulative = Math.Max(cumulative, marker.Cumulative);
            }
        }

        state.Next = Math.Max(offset, state.First);
        state.Cumulative = cumulative;
        state.LastMarkerTimeMs = long.MinValue;
    }

    private void ApplyTruncatePrefix(StoredLog log, ulong offset, ulong sequence)
    {
        ref var state = ref log.Writer;
        if (offset <= state.First)
        {
            return;
        }

        if (offset >= state.Next)
        {
            state.First = offset;
            state.Next = offset;
            state.FirstCumulative = state.Cumulative;
            state.LastMarkerTimeMs = long.MinValue;
            return;
        }

        var view = WriterView(log, sequence);
        try
        {
            foreach (var marker in ReadMarkers(view, log.Id, state.First, offset + 1))
            {
                state.FirstCumulative = Math.Max(state.FirstCumulative, marker.Cumulative);
            }
        }
        finally
        {
            view.Release();
        }

        state.First = offset;
    }

    /// <summary>Retention markers of <paramref name="log"/> in [<paramref name="from"/>, <paramref name="toExclusive"/>).</summary>
    private static List<(ulong Offset, long Cumulative, long PreviousAppendTime)> ReadMarkers(ReadView view, ulong log, ulong from, ulong toExclusive)
    {
        var result = new List<(ulong, long, long)>();
        Span<byte> start = stackalloc byte[KeyCodec.MarkerKeyLength];
        Span<byte> end = stackalloc byte[KeyCodec.MarkerKeyLength];
        KeyCodec.WriteMarkerKey(start, log, from);
        KeyCodec.WriteMarkerKey(end, log, toExclusive); // ulong.MaxValue is never an offset: it ends the log's markers

        var iterator = view.CreateIterator(start, end, includeLog: false, includeKv: true, logEnd: 0);
        while (iterator.Valid && KeyCodec.IsMarkerKey(iterator.Key) && KeyCodec.ReadMarkerLogId(iterator.Key) == log)
        {
            var offset = KeyCodec.ReadMarkerOffset(iterator.Key);
            if (offset >= toExclusive)
            {
                break;
            }

            if (!iterator.IsTombstone)
            {
                result.Add((offset, BinaryPrimitives.ReadInt64LittleEndian(iterator.Value), BinaryPrimitives.ReadInt64LittleEndian(iterator.Value[16..])));
            }

            iterator.Next();
        }

        return result;
    }
}
