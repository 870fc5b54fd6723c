namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// An idempotent batch the leader cannot place in its producer's sequence; nothing was appended.
/// <see cref="ExpectedSequence"/> is the sequence the partition expects next from the producer. A batch ahead of it
/// (<see cref="TooOld"/> false: an earlier batch is missing, e.g. it failed and a later one arrived first) can be sent
/// again once the earlier ones are; a batch behind it that is older than the batches the leader remembers
/// (<see cref="TooOld"/> true) was appended long ago or never: its outcome cannot be told apart any more.
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

    /// <summary>The sequence number the partition expects next from this producer.</summary>
    [Id(0)]
    public long ExpectedSequence { get; init; }

    /// <summary>True when the batch is behind the partition's memory of the producer (not a retry it can answer).</summary>
    [Id(1)]
    public bool TooOld { get; init; }
}
