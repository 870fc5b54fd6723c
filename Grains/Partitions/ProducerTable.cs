using System.Buffers.Binary;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Partitions;

/*
 * Idempotent producers in one partition: per producer id, the sequence it is expected to send next and its last
 * BatchesPerProducer batches (first sequence, count, epoch, first offset), so that a batch sent again after a lost
 * acknowledgement is answered with the acknowledgement of its first append.
 *
 * Guarantee: a batch is appended at most once as long as its producer is remembered and the batch is among its last
 * BatchesPerProducer (a producer keeps at most that many batches in flight per partition, as Kafka's does). Why it holds
 * across failures: the table is part of the replicated state — every replica updates it when it applies a record entry,
 * in log order, so it is the same on every replica at the same applied index, and it is persisted with the applied
 * state. The check itself runs on the leader before it proposes (PartitionReplicaGrain.ProduceAsync): against this
 * table, which a new leader consults only after applying every entry before its own term (by then it has applied
 * every batch any earlier leader committed; an earlier batch not in its log can never commit), and against the
 * batches it proposed itself that are not applied yet. A deposed leader's proposal that reached a majority commits
 * under the next leader, which applies it before it checks anything, so it finds the batch here; one that did not is
 * overwritten. Either way two leaders never both append one batch.
 *
 * Bounds: at most MaxProducers producers per partition; beyond that the one whose last batch was applied longest ago is
 * forgotten (by applied index, so every replica forgets the same one).
 *
 * A producer not remembered (new, or forgotten) is accepted only at sequence 0, a new producer's first batch; any other
 * sequence is refused (UnknownProducer, Kafka's UNKNOWN_PRODUCER_ID): the batch may be a retry of one appended before
 * the producer was forgotten, and accepting it would append it twice without anyone knowing. The client answers the
 * refusal by continuing under a fresh producer id from 0 when it knows the batch was never appended (PartitionProducer).
 * What remains: a retry of a producer's first batch (sequence 0) that was appended, and whose producer was forgotten
 * before the retry arrived, looks like a new producer and is appended again. The client keeps only that one batch in
 * flight until it is acknowledged, so the window is that one batch, and only if MaxProducers other producers were
 * applied between its append and its retry.
 *
 * Compaction: a partition's snapshot carries the table as it was at the snapshot's index (EncodeAll/DecodeAll), so a
 * replica restored from one, and then applying the entries after it, holds exactly the table the others hold, and a
 * batch whose entry was compacted away is still answered with its original acknowledgement.
 */
internal sealed class ProducerTable
{
    public const int BatchesPerProducer = 5;
    public const int MaxProducers = 1024;

    private const int EncodedBytes = 8 + 8 + 4 + BatchesPerProducer * (8 + 4 + 8 + 8);

    private readonly ulong _storeLog;

    // Invariant: at most MaxProducers entries, each with 1..BatchesPerProducer batches, oldest first.
    private readonly Dictionary<long, ProducerHistory> _producers = [];

    // Invariant: producers changed or forgotten since the last TakeUnwritten (written with the next apply pass).
    private readonly HashSet<long> _dirty = [];
    private readonly List<long> _forgotten = [];

    private ProducerTable(ulong storeLog) => _storeLog = storeLog;

    public int Count => _producers.Count;

    /// <summary>A table that starts empty (a scratch state replayed for a snapshot, or one filled by <see cref="DecodeAll"/>).</summary>
    public static ProducerTable Empty(ulong storeLog) => new(storeLog);

    public static ProducerTable Load(PyramidStore store, ulong storeLog)
    {
        var table = new ProducerTable(storeLog);
        var prefix = ReplicaKv.Key(storeLog, ReplicaKv.Producers);
        using var cursor = store.ScanKvPrefix(prefix);
        while (cursor.MoveNext())
        {
            var key = cursor.Key;
            if (key.Length != prefix.Length + 8)
            {
                throw new InvalidDataException($"store log {storeLog} has a producer key of {key.Length} bytes");
            }

            var id = BinaryPrimitives.ReadInt64BigEndian(key[prefix.Length..]);
            table._producers[id] = ProducerHistory.Decode(cursor.Value, storeLog, id);
        }

        return table;
    }

    /// <summary>Records an applied batch (every replica, in log order).</summary>
    public void Apply(long producerId, long firstSequence, int count, ulong epoch, ulong firstOffset, long index)
    {
        if (!_producers.TryGetValue(producerId, out var producer))
        {
            producer = new ProducerHistory();
            _producers[producerId] = producer;
            if (_producers.Count > MaxProducers)
            {
                ForgetLeastRecent(except: producerId);
            }
        }

        producer.Add(new ProducedBatch(firstSequence, count, epoch, firstOffset), index);
        _dirty.Add(producerId);
    }

    /// <summary>
    /// Where a batch of <paramref name="count"/> records from <paramref name="firstSequence"/> stands against what was
    /// applied: <see cref="SequenceCheck.Next"/> (for a producer not remembered, only at sequence 0),
    /// <see cref="SequenceCheck.Duplicate"/> with its original acknowledgement, <see cref="SequenceCheck.Ahead"/>,
    /// <see cref="SequenceCheck.TooOld"/> or <see cref="SequenceCheck.UnknownProducer"/> (not remembered, not at 0).
    /// <paramref name="expected"/> is the sequence expected next (-1 for a producer not remembered).
    /// </summary>
    public SequenceCheck Check(long producerId, long firstSequence, int count, out AppendAck original, out long expected)
    {
        original = default;
        if (!_producers.TryGetValue(producerId, out var producer))
        {
            expected = -1;
            return firstSequence == 0 ? SequenceCheck.Next : SequenceCheck.UnknownProducer;
        }

        expected = producer.NextSequence;
        if (firstSequence == expected)
        {
            return SequenceCheck.Next;
        }

        if (firstSequence > expected)
        {
            return SequenceCheck.Ahead;
        }

        foreach (var batch in producer.Batches)
        {
            if (batch.FirstSequence == firstSequence && batch.Count == count)
            {
                original = new AppendAck(batch.Epoch, batch.FirstOffset, batch.Count, Duplicate: true);
                return SequenceCheck.Duplicate;
            }
        }

        return SequenceCheck.TooOld;
    }

    /// <summary>Adds the changes since the last call to <paramref name="write"/>.</summary>
    public void TakeUnwritten(WriteBatch write)
    {
        if (_dirty.Count == 0 && _forgotten.Count == 0)
        {
            return;
        }

        Span<byte> value = stackalloc byte[EncodedBytes];
        foreach (var id in _dirty)
        {
            if (_producers.TryGetValue(id, out var producer))
            {
                write.Put(Key(id), value[..producer.Encode(value)]);
            }
        }

        foreach (var id in _forgotten)
        {
            if (!_producers.ContainsKey(id))
            {
                write.Delete(Key(id));
            }
        }

        _dirty.Clear();
        _forgotten.Clear();
    }

    /// <summary>Every producer as snapshot data: count, then per producer its id, encoded length and history.</summary>
    public byte[] EncodeAll()
    {
        var buffer = new byte[4 + _producers.Count * (12 + EncodedBytes)];
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, _producers.Count);
        var at = 4;
        foreach (var (id, producer) in _producers)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[at..], id);
            var length = producer.Encode(span[(at + 12)..]);
            BinaryPrimitives.WriteInt32LittleEndian(span[(at + 8)..], length);
            at += 12 + length;
        }

        return buffer[..at];
    }

    /// <summary>
    /// Replaces every producer by those <paramref name="data"/> holds (<see cref="EncodeAll"/>'s form): the state was
    /// replaced by a snapshot. The next <see cref="TakeUnwritten"/> deletes the old ones and writes the new ones.
    /// </summary>
    /// <exception cref="InvalidDataException">The data is damaged.</exception>
    public void ReplaceAll(ReadOnlySpan<byte> data)
    {
        foreach (var id in _producers.Keys)
        {
            _forgotten.Add(id);
        }

        _producers.Clear();
        _dirty.Clear();
        if (data.Length < 4)
        {
            throw new InvalidDataException($"store log {_storeLog}: a snapshot's producer table has {data.Length} bytes");
        }

        var count = BinaryPrimitives.ReadInt32LittleEndian(data);
        var at = 4;
        for (var i = 0; i < count; i++)
        {
            if (at + 12 > data.Length)
            {
                throw new InvalidDataException($"store log {_storeLog}: a snapshot's producer table ends inside producer {i} of {count}");
            }

            var id = BinaryPrimitives.ReadInt64LittleEndian(data[at..]);
            var length = BinaryPrimitives.ReadInt32LittleEndian(data[(at + 8)..]);
            if (length < 0 || at + 12 + length > data.Length)
            {
                throw new InvalidDataException($"store log {_storeLog}: a snapshot's producer table ends inside producer {id}");
            }

            _producers[id] = ProducerHistory.Decode(data.Slice(at + 12, length), _storeLog, id);
            _dirty.Add(id);
            at += 12 + length;
        }

        if (at != data.Length || _producers.Count > MaxProducers)
        {
            throw new InvalidDataException($"store log {_storeLog}: a snapshot's producer table is damaged ({data.Length} bytes for {count} producers)");
        }
    }

    private void ForgetLeastRecent(long except)
    {
        long oldest = 0;
        var oldestIndex = long.MaxValue;
        foreach (var (id, producer) in _producers)
        {
            if (id != except && producer.LastIndex < oldestIndex)
            {
                oldest = id;
                oldestIndex = producer.LastIndex;
            }
        }

        _producers.Remove(oldest);
        _dirty.Remove(oldest);
        _forgotten.Add(oldest);
    }

    private byte[] Key(long producerId)
    {
        var key = new byte[18];
        ReplicaKv.Key(_storeLog, ReplicaKv.Producers).CopyTo(key, 0);
        BinaryPrimitives.WriteInt64BigEndian(key.AsSpan(10), producerId);
        return key;
    }
}
