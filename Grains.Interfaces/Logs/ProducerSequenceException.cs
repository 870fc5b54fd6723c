namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// An idempotent batch the leader cannot place in its producer's sequence; nothing was appended.
/// <see cref="ExpectedSequence"/> is the sequence the partition expects next from the producer. A batch ahead of it
/// (<see cref="TooOld"/> false: an earlier batch is missing, e.g. it failed and a later one arrived first) can be sent
/// again once the earlier ones are; a batch behind it that is older than the batches the leader remembers
/// (<see cref="TooOld"/> true) was appended long ago or never: its outcome cannot be told apart any more. A batch
/// from a producer the partition does not remember (<see cref="UnknownProducer"/> true: new, or forgotten) is accepted
/// only at sequence 0; at any other it may be a retry of a batch appended before the producer was forgotten.
/// </summary>
[GenerateSerializer]
[Alias("pyralog.ProducerSequenceException")]
public sealed class ProducerSequenceException : Exception
{
    public ProducerSequenceException()
    {
    }

    public ProducerSequenceException(string message)
        : base(message)
    {
    }

    public ProducerSequenceException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public ProducerSequenceException(string replicaKey, long producerId, long sequence, long expectedSequence, bool tooOld)
        : base(tooOld
            ? $"replica {replicaKey}: producer {producerId} sent sequence {sequence}, older than the batches the partition remembers (it expects {expectedSequence} next); its outcome is unknown"
            : $"replica {replicaKey}: producer {producerId} sent sequence {sequence} but the partition expects {expectedSequence} next; send the batches before it first")
    {
        ExpectedSequence = expectedSequence;
        TooOld = tooOld;
    }

    /// <summary>
    /// The partition does not remember the producer and the batch did not start at sequence 0. Nothing was appended;
    /// the batch may have been appended by an earlier attempt, before the partition forgot the producer.
    /// </summary>
    /// <param name="partition">Which partition of the log (the replica key names it too, but a reader wants it plain).</param>
    public static ProducerSequenceException ForUnknownProducer(string replicaKey, int partition, long producerId, long sequence) =>
        new($"replica {replicaKey}: partition {partition} does not remember producer {producerId}, which sent sequence {sequence}; " +
            "a producer the partition does not remember (new, or forgotten) must start at sequence 0, nothing was appended")
        {
            ExpectedSequence = 0,
            UnknownProducer = true,
        };

    /// <summary>The sequence number the partition expects next from this producer (0 for a producer it does not remember).</summary>
    [Id(0)]
    public long ExpectedSequence { get; init; }

    /// <summary>True when the batch is behind the partition's memory of the producer (not a retry it can answer).</summary>
    [Id(1)]
    public bool TooOld { get; init; }

    /// <summary>True when the partition does not remember the producer and the batch did not start at sequence 0.</summary>
    [Id(2)]
    public bool UnknownProducer { get; init; }
}
