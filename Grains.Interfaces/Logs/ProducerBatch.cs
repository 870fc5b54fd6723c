namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// A batch from an idempotent producer: its producer id (a Scarab ID the producer took once, never 0) and the
/// sequence number of the batch's first record in this partition; the records take <c>FirstSequence</c>,
/// <c>FirstSequence + 1</c>, … A producer numbers each partition from 0 and sends batches in sequence order. The
/// leader keeps the last batches of every producer in the partition's replicated state, so a batch sent again after a
/// lost acknowledgement (to the same leader or a new one) is answered with its original acknowledgement instead of
/// being appended twice.
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.ProducerBatch")]
public sealed record ProducerBatch(
    [property: Id(0)] long ProducerId,
    [property: Id(1)] long FirstSequence,
    [property: Id(2)] ProducerRecord[] Records);
