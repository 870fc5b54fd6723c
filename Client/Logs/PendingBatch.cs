using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/// <summary>
/// A batch of one partition from its first record to its acknowledgement or failure (see PartitionProducer for the
/// rules it moves by). Guarded by its partition's lock.
/// </summary>
internal sealed class PendingBatch(long openedAt, long deadline)
{
    public readonly List<ProducerRecord> Records = [];
    public readonly List<TaskCompletionSource<RecordAck>> Acks = [];

    /// <summary>Completed (never faulted) once every record of the batch is acknowledged or failed; what FlushAsync waits for.</summary>
    public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>When its first record arrived (a timestamp): the linger counts from here.</summary>
    public readonly long OpenedAt = openedAt;

    /// <summary>The first record's delivery deadline (a timestamp): after it the batch is given up rather than sent again.</summary>
    public readonly long Deadline = deadline;

    /// <summary>Header plus the records' encoded bytes: what the server counts against its batch limit.</summary>
    public int Bytes = ProducerOptions.BatchHeaderBytes;

    /// <summary>Sent as soon as a request may go (lingered, flushed, or no linger), though it may still fill up until then.</summary>
    public bool Ready;

    /// <summary>An acknowledgement or a flush came while it was open: once ready it goes with the next request whatever its size.</summary>
    public bool Due;

    /// <summary>What goes on the wire, fixed at the first send: every retry sends this same object (same producer id and sequence).</summary>
    public ProducerBatch? Wire;

    /// <summary>The records as sent without idempotence (fixed at the first send).</summary>
    public ProducerRecord[]? Plain;

    public bool InFlight;

    /// <summary>Its latest attempt was sent with no earlier batch of the partition unacknowledged.</summary>
    public bool SentAlone;

    /// <summary>An attempt ended without an answer (timeout, silo lost): the batch may be in the log.</summary>
    public bool MaybeAppended;

    /// <summary>The last attempt was refused because the partition does not remember the batch's producer id (nothing appended).</summary>
    public bool ProducerUnknown;

    /// <summary>The last error of a send; null once it succeeded or before any failed.</summary>
    public Exception? LastError;

    /// <summary>Set when the batch must not be sent again: the reason it fails with (the partition gives it up once its in-flight batches settled).</summary>
    public Exception? GiveUp;

    /// <summary>The next batch to start sending, linked while the partition lock is held and walked after it is released.</summary>
    public PendingBatch? NextToSend;

    /// <summary>
    /// Its place among the idempotent batches its partition numbered (fixed with <see cref="Wire"/>): no batch is sent
    /// MaxInFlight or more places after the oldest one not yet acknowledged (see PartitionProducer).
    /// </summary>
    public long Ordinal;

    /// <summary>The span of this batch's first send: every later send (a retry) is its child, so a batch is one trace.</summary>
    public System.Diagnostics.ActivityContext Trace;

    /// <summary>Sent at least once (its outcome may be unknown from then on).</summary>
    public bool Sent => Wire is not null || Plain is not null;

    public int Count => Records.Count;
}
