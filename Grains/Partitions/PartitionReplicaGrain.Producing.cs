using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Partitions;

/// <summary>
/// Idempotent producers' batches: checked against what was applied and what this leader has in flight before they are
/// proposed (ProducerTable explains why that suffices); a batch ahead of its producer's sequence waits briefly for the
/// ones before it.
/// </summary>
internal sealed partial class PartitionReplicaGrain
{
    // The idempotent batches this activation proposed that have not resolved yet.
    private readonly ProducerBatchesInFlight _producing = new();

    // Orleans does not promise that requests arrive in the order they were sent (under load one batch in a few hundred
    // overtook the one before it, through the gateway), so a batch ahead of its producer's sequence waits up to this long
    // for the batches before it instead of being refused at once: a refusal costs the producer a drained pipeline.
    private static readonly TimeSpan OvertakenWait = TimeSpan.FromMilliseconds(200);

    // Completed (and replaced) when a batch is proposed while batches ahead of their sequence wait; those wait on it.
    // Invariant: _aheadWaiting counts the ProduceAsync calls awaiting it.
    private TaskCompletionSource _sequenceAdvanced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _aheadWaiting;

    public async Task<AppendAck> ProduceAsync(ProducerBatch batch)
    {
        using var span = ReplicationInstruments.Source.StartActivity("pyralog.partition.append");
        ThrowIfDeleted();
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.ProducerId == 0)
        {
            throw new ArgumentException("an idempotent batch needs a producer id (0 means none)", nameof(batch));
        }

        if (batch.FirstSequence < 0)
        {
            throw new ArgumentException($"producer {batch.ProducerId} sent sequence {batch.FirstSequence}: sequences start at 0", nameof(batch));
        }

        var settings = await SettingsAsync();
        var payload = RecordBatchCodec.Encode(batch.Records, settings.MaxRecordBytes,
            new BatchHeader(_clock.NowMs, batch.ProducerId, batch.FirstSequence));
        var driver = Driver ?? throw new InvalidOperationException($"replica {Key} has no Raft node");
        var started = Time.GetTimestamp();
        await ThisTermAppliedAsync(driver);

        Task<object?>? proposal;
        long? aheadSince = null; // the clock is read only for a batch that found itself ahead
        while (true)
        {
            ThrowIfDeactivating();

            // From the check to the proposal no await: they are one turn.
            var refuseAhead = aheadSince is { } since && Time.GetElapsedTime(since) >= OvertakenWait;
            proposal = ProposeInSequence(driver, batch.ProducerId, batch.FirstSequence, batch.Records.Length, payload, refuseAhead, out var duplicateOf);
            if (duplicateOf is { } original)
            {
                return original;
            }

            if (proposal is not null)
            {
                break;
            }

            aheadSince ??= Time.GetTimestamp();
            await SequenceAdvancedAsync(OvertakenWait - Time.GetElapsedTime(aheadSince.Value));
            await ThisTermAppliedAsync(driver); // leadership may have been lost and won again meanwhile
        }

        var remaining = Options.Replication.AppendTimeout - Time.GetElapsedTime(started);
        var answer = await proposal!.WaitAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, Time).ConfigureAwait(true);
        var ack = Acknowledged(answer, payload.Length, started);
        EnforceRetention(afterAppend: true);
        return ack;
    }

    /// <summary>
    /// Checks an idempotent batch against what was applied and what this leader has in flight, then proposes it if it
    /// is the next one. Returns the proposal, or null with <paramref name="duplicateOf"/> set when the partition already
    /// holds the batch (a batch still in flight is awaited and answered with its outcome), or null with nothing set when
    /// the batch is ahead of its producer's sequence and <paramref name="refuseAhead"/> is false (it may wait for the
    /// batches before it).
    /// </summary>
    /// <exception cref="ProducerSequenceException">
    /// The batch is ahead of its producer's sequence (and <paramref name="refuseAhead"/>), too old to tell, or from a
    /// producer this partition does not remember (neither applied nor in flight here) at a sequence other than 0.
    /// </exception>
    private Task<object?>? ProposeInSequence(ReplicaDriver driver, long producerId, long firstSequence, int count, byte[] payload, bool refuseAhead, out AppendAck? duplicateOf)
    {
        duplicateOf = null;
        var check = _state.Producers.Check(producerId, firstSequence, count, out var original, out var expected);
        var term = driver.Node.Term;
        if (_producing.Refine(producerId, firstSequence, count, term, ref check, ref expected) is { } inFlight)
        {
            return AsDuplicate(inFlight);
        }

        switch (check)
        {
            case SequenceCheck.Duplicate:
                duplicateOf = original;
                return null;
            case SequenceCheck.Ahead when !refuseAhead:
                return null;
            case SequenceCheck.Ahead or SequenceCheck.TooOld:
                throw new ProducerSequenceException(Key, producerId, firstSequence, expected, check == SequenceCheck.TooOld);
            case SequenceCheck.UnknownProducer:
                throw ProducerSequenceException.ForUnknownProducer(Key, Partition, producerId, firstSequence);
        }

        var proposal = driver.ProposeAsync(payload, Key, KeyOf);
        _producing.Add(producerId, firstSequence, count, term, proposal);
        _ = ForgetWhenResolvedAsync(producerId, proposal);
        if (_aheadWaiting > 0)
        {
            var advanced = _sequenceAdvanced;
            _sequenceAdvanced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            advanced.SetResult();
        }

        return proposal;
    }

    /// <summary>Waits until a batch is proposed here, or <paramref name="left"/> passes.</summary>
    private async Task SequenceAdvancedAsync(TimeSpan left)
    {
        _aheadWaiting++;
        try
        {
            await GrainWait.ForAsync(_sequenceAdvanced.Task, left, Time, _deactivating.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }
        finally
        {
            _aheadWaiting--;
        }
    }

    private static async Task<object?> AsDuplicate(Task<object?> proposal)
    {
        var answer = await proposal.ConfigureAwait(true);
        return answer is AppendAck ack ? ack with { Duplicate = true } : answer;
    }

    private async Task ForgetWhenResolvedAsync(long producerId, Task<object?> proposal)
    {
        await ((Task)proposal).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        _producing.Forget(producerId, proposal);
    }
}
