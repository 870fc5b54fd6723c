using System.Buffers.Binary;

namespace Pyralog.Grains.Partitions;

/// <summary>
/// What a partition remembers of one idempotent producer (see <see cref="ProducerTable"/>): the sequence it expects
/// next, its last batches, and the Raft index of the last one (which producer is forgotten first).
/// </summary>
internal sealed class ProducerHistory
{
    // Invariant: the producer's last batches in apply order (oldest first), at most BatchesPerProducer.
    private readonly List<ProducedBatch> _batches = new(ProducerTable.BatchesPerProducer);

    public long NextSequence { get; private set; }

    /// <summary>The Raft index of its last applied batch (which producer is forgotten first).</summary>
    public long LastIndex { get; private set; }

    public IReadOnlyList<ProducedBatch> Batches => _batches;

    public void Add(ProducedBatch batch, long index)
    {
        if (_batches.Count == ProducerTable.BatchesPerProducer)
        {
            _batches.RemoveAt(0);
        }

        _batches.Add(batch);
        NextSequence = batch.FirstSequence + batch.Count;
        LastIndex = index;
    }

    public int Encode(Span<byte> span)
    {
        BinaryPrimitives.WriteInt64LittleEndian(span, NextSequence);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], LastIndex);
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], _batches.Count);
        var at = 20;
        foreach (var b in _batches)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[at..], b.FirstSequence);
            BinaryPrimitives.WriteInt32LittleEndian(span[(at + 8)..], b.Count);
            BinaryPrimitives.WriteUInt64LittleEndian(span[(at + 12)..], b.Epoch);
            BinaryPrimitives.WriteUInt64LittleEndian(span[(at + 20)..], b.FirstOffset);
            at += 28;
        }

        return at;
    }

    public static ProducerHistory Decode(ReadOnlySpan<byte> span, ulong storeLog, long id)
    {
        var count = span.Length >= 20 ? BinaryPrimitives.ReadInt32LittleEndian(span[16..]) : -1;
        if (count is < 1 or > ProducerTable.BatchesPerProducer || span.Length != 20 + count * 28)
        {
            throw new InvalidDataException($"store log {storeLog}: the state of producer {id} is damaged ({span.Length} bytes)");
        }

        var producer = new ProducerHistory();
        var at = 20;
        for (var i = 0; i < count; i++)
        {
            producer._batches.Add(new ProducedBatch(
                BinaryPrimitives.ReadInt64LittleEndian(span[at..]),
                BinaryPrimitives.ReadInt32LittleEndian(span[(at + 8)..]),
                BinaryPrimitives.ReadUInt64LittleEndian(span[(at + 12)..]),
                BinaryPrimitives.ReadUInt64LittleEndian(span[(at + 20)..])));
            at += 28;
        }

        producer.NextSequence = BinaryPrimitives.ReadInt64LittleEndian(span);
        producer.LastIndex = BinaryPrimitives.ReadInt64LittleEndian(span[8..]);
        return producer;
    }
}
