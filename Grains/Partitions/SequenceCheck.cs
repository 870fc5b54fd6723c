namespace Pyralog.Grains.Partitions;

/// <summary>Where an idempotent producer's batch stands against its sequence (see <see cref="ProducerTable"/>).</summary>
internal enum SequenceCheck
{
    /// <summary>The batch the partition expects next (or the first batch, at sequence 0, of a producer not remembered): append it.</summary>
    Next,

    /// <summary>Already appended, and still remembered: answer with the original acknowledgement.</summary>
    Duplicate,

    /// <summary>Ahead of the expected sequence: an earlier batch is missing.</summary>
    Ahead,

    /// <summary>Behind the expected sequence and older than the batches remembered.</summary>
    TooOld,

    /// <summary>
    /// The producer is not remembered and the batch does not start at sequence 0: it may be a retry of a batch appended
    /// before the producer was forgotten, so it is refused rather than appended a second time.
    /// </summary>
    UnknownProducer,
}
