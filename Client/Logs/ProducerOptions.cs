using System.ComponentModel.DataAnnotations;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Interfaces.Validation;

namespace Pyralog.Client.Logs;

/// <summary>How a <see cref="LogProducer"/> batches, bounds its memory and retries.</summary>
public sealed record ProducerOptions
{
    /// <summary>The annotations on these options, then the rules across settings.</summary>
    internal static readonly SettingsValidator<ProducerOptions> Validator =
        new(nameof(ProducerOptions), configurationPath: false, new ProducerOptionsValidator(), new ProducerOptionsRules());

    /// <summary>The bytes of a batch beyond its records' (what the server counts against <see cref="LogSettings.MaxBatchBytes"/>).</summary>
    internal const int BatchHeaderBytes = 1 + 4 + 8 + 8 + 8;

    /// <summary>
    /// How long a partition's batch waits for more records before it is sent. 0: no wait while nothing of the partition
    /// is in flight; while batches are, a new one goes once it holds half as many records as they hold on average, or
    /// when one of them is answered (so under load the records freed by an acknowledgement travel together, not the
    /// first of them alone).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan Linger { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// A batch is sent once it holds this many bytes (the records' encoded bytes plus the batch header); a record larger
    /// than this goes alone. The default, <see cref="LogSettings.LargeObjectSafeBatchBytes"/>, keeps every copy of a
    /// batch on its way (the leader's log entry, the envelope to each follower, each follower's received array) off
    /// .NET's large object heap; larger batches cost the replicas more CPU per record, not less.
    /// </summary>
    [Range(BatchHeaderBytes + 1, LogSettings.MaxBatchBytes)]
    public int MaxBatchBytes { get; init; } = LogSettings.LargeObjectSafeBatchBytes;

    /// <summary>Batches of one partition awaiting acknowledgement at once (1..5: the leader remembers an idempotent producer's last 5 batches).</summary>
    [Range(1, 5)]
    public int MaxInFlight { get; init; } = 5;

    /// <summary>Bytes of records accepted and not yet acknowledged or failed; <see cref="LogProducer.ProduceAsync(string, ProducerRecord, CancellationToken)"/> waits while this many are buffered.</summary>
    public long MaxBufferedBytes { get; init; } = 64L << 20;

    /// <summary>How long a record may take from ProduceAsync to its acknowledgement, retries included, before it fails with <see cref="ProduceException"/> (<see cref="TimeSpan.MaxValue"/>: never).</summary>
    public TimeSpan DeliveryTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long one append request may go unanswered before it counts as lost and is retried.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:05:00")]
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long an append request may go unanswered before the producer asks the partition's other replicas who leads
    /// (and again at this interval until <see cref="RequestTimeout"/>): when another replica leads now, the request is
    /// given up at once and its batch sent to the new leader (idempotence makes that safe), instead of waiting out the
    /// request timeout on a leader that died with its silo. Not shorter than <see cref="RequestTimeout"/> turns it off.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:05:00")]
    public TimeSpan LeaderCheckAfter { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// Send batches with a producer id and sequence numbers so the leader appends a retried batch once (the default).
    /// Without it a batch whose acknowledgement was lost may be appended twice, and retries may reorder batches.
    /// </summary>
    public bool Idempotent { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentException"/> naming every wrong setting and its value (its parameter name: the first).</summary>
    public void Validate() => Validator.ThrowIfInvalid(this);
}
