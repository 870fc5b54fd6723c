namespace Pyralog.Client.Logs;

/// <summary>What a failed append request means for its batch (see <see cref="ProduceErrors.Classify"/>).</summary>
internal enum ProduceErrorKind
{
    /// <summary>Lost on the way or unanswered (timeout, silo lost, connection): the outcome is unknown; send the same batch again.</summary>
    Transient,

    /// <summary>The replica does not lead; nothing was appended: send again to the leader it names.</summary>
    NotLeader,

    /// <summary>The batch is ahead of the producer's sequence (an earlier one is missing); nothing was appended: resend in order.</summary>
    OutOfSequence,

    /// <summary>The server refused the batch as invalid (too large, …); nothing was appended: fail its records.</summary>
    Rejected,

    /// <summary>The batch is older than the partition remembers: its outcome can no longer be told; fail its records.</summary>
    TooOld,

    /// <summary>
    /// The partition does not remember the producer id (it forgot it) and the batch is not its first; nothing was
    /// appended: continue under a fresh id if the batch cannot have been appended before, else fail its records.
    /// </summary>
    UnknownProducer,

    /// <summary>The replica knows no such log or partition: the log may have been deleted; ask the metadata group.</summary>
    CheckLog,

    /// <summary>Anything else (a bug, a serialization failure, a replica torn down with its log): retrying would not help; fail its records, saying so if the log was deleted.</summary>
    Fatal,
}
