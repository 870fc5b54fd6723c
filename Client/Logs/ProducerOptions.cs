using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/// <summary>How a <see cref="LogProducer"/> batches, bounds its memory and retries.</summary>
public sealed record ProducerOptions
{
    /// <summary>The bytes of a batch beyond its records' (what the server counts against <see cref="LogSettings.MaxBatchBytes"/>).</summary>
    internal const int BatchHeaderBytes = 1 + 4 + 8 + 8 + 8;

    /// <summary>How long a partition's batch waits for more records before it is sent (0: send as soon as a request may go).</summary>
    public TimeSpan Linger { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>A batch is sent once it holds this many bytes (the records' encoded bytes plus the batch header); a record larger than this goes alone.</summary>
    public int MaxBatchBytes { get; init; } = 1 << 20;

    /// <summary>Batches of one partition awaiting acknowledgement at once (1..5: the leader remembers an idempotent producer's last 5 batches).</summary>
    public int MaxInFlight { get; init; } = 5;

    /// <summary>Bytes of records accepted and not yet acknowledged or failed; <see cref="LogProducer.ProduceAsync(string, ProducerRecord, CancellationToken)"/> waits while this many are buffered.</summary>
    public long MaxBufferedBytes { get; init; } = 64L << 20;

    /// <summary>How long a record may take from ProduceAsync to its acknowledgement, retries included, before it fails with <see cref="ProduceException"/>.</summary>
    public TimeSpan DeliveryTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long one append request may go unanswered before it counts as lost and is retried.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long an append request may go unanswered before the producer asks the partition's other replicas who leads
    /// (and again at this interval until <see cref="RequestTimeout"/>): when another replica leads now, the request is
    /// given up at once and its batch sent to the new leader (idempotence makes that safe), instead of waiting out the
    /// request timeout on a leader that died with its silo. Not shorter than <see cref="RequestTimeout"/> turns it off.
    /// </summary>
    public TimeSpan LeaderCheckAfter { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// Send batches with a producer id and sequence numbers so the leader appends a retried batch once (the default).
    /// Without it a batch whose acknowledgement was lost may be appended twice, and retries may reorder batches.
    /// </summary>
    public bool Idempotent { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first wrong setting.</summary>
    public void Validate()
    {
        if (Linger < TimeSpan.Zero || Linger > TimeSpan.FromMinutes(1))
        {
            throw new ArgumentException($"Linger must be between 0 and 1 minute (was {Linger}).", nameof(Linger));
        }

        if (MaxBatchBytes <= BatchHeaderBytes || MaxBatchBytes > LogSettings.MaxBatchBytes)
        {
            throw new ArgumentException($"MaxBatchBytes must be in {BatchHeaderBytes + 1}..{LogSettings.MaxBatchBytes} (was {MaxBatchBytes}).", nameof(MaxBatchBytes));
        }

        if (MaxInFlight is < 1 or > 5)
        {
            throw new ArgumentException($"MaxInFlight must be in 1..5 (was {MaxInFlight}).", nameof(MaxInFlight));
        }

        if (MaxBufferedBytes < MaxBatchBytes)
        {
            throw new ArgumentException($"MaxBufferedBytes must be at least MaxBatchBytes ({MaxBatchBytes}) (was {MaxBufferedBytes}).", nameof(MaxBufferedBytes));
        }

        if (RequestTimeout < TimeSpan.FromMilliseconds(1) || RequestTimeout > TimeSpan.FromMinutes(5))
        {
            throw new ArgumentException($"RequestTimeout must be between 1 ms and 5 minutes (was {RequestTimeout}).", nameof(RequestTimeout));
        }

        if (LeaderCheckAfter < TimeSpan.FromMilliseconds(1) || LeaderCheckAfter > TimeSpan.FromMinutes(5))
        {
            throw new ArgumentException($"LeaderCheckAfter must be between 1 ms and 5 minutes (was {LeaderCheckAfter}).", nameof(LeaderCheckAfter));
        }

        if (DeliveryTimeout < RequestTimeout + Linger)
        {
            throw new ArgumentException($"DeliveryTimeout must be at least RequestTimeout + Linger ({RequestTimeout + Linger}) (was {DeliveryTimeout}).", nameof(DeliveryTimeout));
        }
    }
}
