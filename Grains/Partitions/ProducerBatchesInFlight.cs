namespace Pyralog.Grains.Partitions;

/// <summary>
/// The idempotent batches a partition's leader proposed and that have not resolved yet, per producer, in sequence order,
/// each with the Raft term it was proposed in. They refine the producer table's check (what was applied): a batch sent
/// again while its first attempt is in flight is answered with that attempt's outcome, and the sequence continues from
/// the last batch in flight.
/// </summary>
internal sealed class ProducerBatchesInFlight
{
    // Invariant: per producer, the unresolved proposals in the order they were made; a producer with none has no entry.
    // Only the current term's batches count, once the leader applied its term's first entry (the caller's duty): an
    // earlier term's batch still unresolved then lies past the log this leader started its term with, so another
    // leader's entries replaced it and it will never be appended (it resolves once its index is applied again). Counted,
    // it would make a resend of a batch that was never appended wait for a dead proposal, or be refused as too old.
    private readonly Dictionary<long, List<(long FirstSequence, int Count, long Term, Task<object?> Proposal)>> _batches = [];

    /// <summary>
    /// Refines the producer table's <paramref name="check"/> and <paramref name="expected"/> with the batches in flight in
    /// <paramref name="term"/>: returns the proposal of the same batch when one is in flight (answer with its outcome),
    /// else null, having continued the sequence from the last one in flight — also for a producer the table does not
    /// remember (or forgot): its first batch is in flight, so it is not unknown.
    /// </summary>
    public Task<object?>? Refine(long producerId, long firstSequence, int count, long term, ref SequenceCheck check, ref long expected)
    {
        if (!_batches.TryGetValue(producerId, out var inFlight))
        {
            return null;
        }

        var last = -1;
        for (var i = 0; i < inFlight.Count; i++)
        {
            var pending = inFlight[i];
            if (pending.Term != term)
            {
                continue;
            }

            if (pending.FirstSequence == firstSequence && pending.Count == count)
            {
                return pending.Proposal;
            }

            last = i;
        }

        if (last >= 0)
        {
            var (lastFirst, lastCount, _, _) = inFlight[last];
            expected = lastFirst + lastCount;
            check = firstSequence == expected ? SequenceCheck.Next
                : firstSequence > expected ? SequenceCheck.Ahead
                : check == SequenceCheck.Duplicate ? SequenceCheck.Duplicate
                : SequenceCheck.TooOld;
        }

        return null;
    }

    public void Add(long producerId, long firstSequence, int count, long term, Task<object?> proposal)
    {
        if (!_batches.TryGetValue(producerId, out var inFlight))
        {
            inFlight = [];
            _batches[producerId] = inFlight;
        }

        inFlight.Add((firstSequence, count, term, proposal));
    }

    /// <summary>Drops a proposal that resolved.</summary>
    public void Forget(long producerId, Task<object?> proposal)
    {
        if (_batches.TryGetValue(producerId, out var inFlight))
        {
            inFlight.RemoveAll(p => p.Proposal == proposal);
            if (inFlight.Count == 0)
            {
                _batches.Remove(producerId);
            }
        }
    }
}
