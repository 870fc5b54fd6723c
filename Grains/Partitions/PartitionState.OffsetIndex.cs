using System.Buffers.Binary;
using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Partitions;

/*
 * Reads through the offset index (see the design comment in PartitionState.cs, "Where the records are"): records from
 * an offset, the offset at a time, the entry holding an offset, and where retention by time or size may cut.
 */
internal sealed partial class PartitionState
{
    /// <summary>
    /// Adds the applied records from <paramref name="fromOffset"/> (in [FirstOffset, NextOffset]) to
    /// <paramref name="into"/>, reading the Raft log until about <paramref name="maxBytes"/> are taken (at least one
    /// record when any is there).
    /// </summary>
    public void Read(ulong fromOffset, long maxBytes, List<CommittedRecord> into)
    {
        if (fromOffset >= NextOffset)
        {
            return;
        }

        var (index, offset, time) = Locate(fromOffset);
        var budget = maxBytes;
        using var cursor = _store.ReadLog(_storeLog, (ulong)index, (ulong)AppliedIndex + 1);
        while (budget > 0 && cursor.MoveNext())
        {
            var payload = cursor.Payload;
            var data = payload[1..];
            if (payload[0] == (byte)EntryType.Normal && RecordBatchCodec.Count(data) is var count and > 0)
            {
                time = Math.Max(time, RecordBatchCodec.Header(data).AppendTimeMs);
                RecordBatchCodec.Decode(data, cursor.Epoch, offset, fromOffset, DateTimeOffset.FromUnixTimeMilliseconds(time), ref budget, into);
                offset += (ulong)count;
            }
        }
    }

    /// <summary>
    /// The first applied offset whose append time is at or after <paramref name="timeMs"/> (Unix milliseconds):
    /// <see cref="NextOffset"/> when none is; a binary search over the offset index (append times never decrease).
    /// </summary>
    public ulong FindOffset(long timeMs)
    {
        if (NextOffset == FirstOffset || LastAppendTimeMs < timeMs)
        {
            return NextOffset;
        }

        ulong lo = FirstOffset, hi = NextOffset - 1; // the answer is in [lo, hi]: the last record is at or after timeMs
        while (lo < hi)
        {
            var mid = lo + ((hi - lo) / 2);
            var (_, first, time) = Locate(mid);
            if (time >= timeMs)
            {
                hi = Math.Max(first, lo); // the entry's records share its time
            }
            else
            {
                lo = mid + 1;
            }
        }

        return lo;
    }

    /// <summary>
    /// The offset retention would keep from now (at most <see cref="NextOffset"/>; <see cref="FirstOffset"/> when
    /// nothing is to go): records appended before <paramref name="cutoffMs"/> (Unix milliseconds) go, and the oldest
    /// entries while the rest exceed <paramref name="maxBytes"/> (the newest entry stays). Whole entries at a time, and
    /// about <paramref name="maxDropBytes"/> at most (one entry more at worst): each retention step's compaction
    /// replays what it drops, so one step must not take long; <paramref name="capped"/> says the cap applied (the caller
    /// takes the next step at once).
    /// </summary>
    public ulong RetentionPoint(long? cutoffMs, long? maxBytes, ulong maxDropBytes, out bool capped)
    {
        capped = false;
        var retainFrom = FirstOffset;
        if (NextOffset == FirstOffset)
        {
            return retainFrom;
        }

        if (cutoffMs is { } cutoff && Locate(FirstOffset).AppendTimeMs < cutoff)
        {
            retainFrom = Math.Max(retainFrom, FindOffset(cutoff)); // the oldest record is too old: search how many are
        }

        if (maxBytes is { } limit && RetainedBytes > (ulong)limit)
        {
            // The first retained entry must start at or after this many bytes; when only the newest one does not, it stays.
            var need = TotalBytes - (ulong)limit;
            retainFrom = Math.Max(retainFrom, EntryStartingAt(need) ?? LocateEntry(NextOffset - 1).FirstOffset);
        }

        if (retainFrom > FirstOffset && maxDropBytes < RetainedBytes)
        {
            var dropping = (retainFrom >= NextOffset ? TotalBytes : LocateEntry(retainFrom).BytesBefore) - DroppedBytes;
            if (dropping > maxDropBytes && EntryStartingAt(DroppedBytes + maxDropBytes) is { } step && step < retainFrom)
            {
                retainFrom = step;
                capped = true;
            }
        }

        return retainFrom;
    }

    /// <summary>
    /// The first offset of the first applied entry (from <see cref="FirstOffset"/>) that starts at or after
    /// <paramref name="bytes"/> record bytes (<see cref="TotalBytes"/> counting), or null when none does.
    /// </summary>
    private ulong? EntryStartingAt(ulong bytes)
    {
        ulong lo = FirstOffset, hi = NextOffset - 1;
        if (NextOffset == FirstOffset || LocateEntry(hi).BytesBefore < bytes)
        {
            return null;
        }

        while (lo < hi) // the answer's entry is in [lo, hi]; hi's entry starts late enough
        {
            var mid = lo + ((hi - lo) / 2);
            var entry = LocateEntry(mid);
            if (entry.BytesBefore >= bytes)
            {
                hi = Math.Max(entry.FirstOffset, lo);
            }
            else
            {
                lo = mid + 1;
            }
        }

        return LocateEntry(lo).FirstOffset;
    }

    /// <summary>
    /// The Raft index, first offset and append time of the applied entry holding <paramref name="offset"/> (which must
    /// be in [FirstOffset, NextOffset)).
    /// </summary>
    /// <exception cref="InvalidDataException">The offset index has no entry for it (damaged store).</exception>
    public (long Index, ulong FirstOffset, long AppendTimeMs) Locate(ulong offset)
    {
        var entry = LocateEntry(offset);
        return (entry.Index, entry.FirstOffset, entry.AppendTimeMs);
    }

    /// <summary><see cref="Locate"/> with the record bytes applied before the entry.</summary>
    private (long Index, ulong FirstOffset, long AppendTimeMs, ulong BytesBefore) LocateEntry(ulong offset)
    {
        if (_recent.Count > 0 && offset >= _recent[0].FirstOffset)
        {
            int lo = 0, hi = _recent.Count - 1;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                if (_recent[mid].LastOffset < offset)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }

            var recent = _recent[lo];
            return (recent.Index, recent.FirstOffset, recent.AppendTimeMs, recent.BytesBefore);
        }

        var prefix = ReplicaKv.Key(_storeLog, ReplicaKv.OffsetIndex);
        using var cursor = _store.ScanKv(ReplicaKv.OffsetKey(_storeLog, offset), ReplicaKv.OffsetKey(_storeLog, ulong.MaxValue));
        while (cursor.MoveNext())
        {
            if (!cursor.Key.StartsWith(prefix))
            {
                break;
            }

            var value = cursor.Value;
            if (value.Length != OffsetIndexValueBytes)
            {
                throw new InvalidDataException($"store log {_storeLog} has an offset-index entry of {value.Length} bytes (expected {OffsetIndexValueBytes})");
            }

            var first = BinaryPrimitives.ReadUInt64LittleEndian(value[8..]);
            if (first <= offset)
            {
                return (BinaryPrimitives.ReadInt64LittleEndian(value), first, BinaryPrimitives.ReadInt64LittleEndian(value[16..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(value[24..]));
            }

            break;
        }

        throw new InvalidDataException($"store log {_storeLog} has no offset-index entry for offset {offset} (applied up to {NextOffset})");
    }
}
