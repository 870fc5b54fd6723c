using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/// <summary>
/// One consumer enumeration's replica choice and failover for one partition: it reads from the replica believed to
/// lead and moves on to the next replica when one does not answer, does not know the log (a replica moving) or has not
/// applied the position yet (it is behind), pausing after each round of failures. The position is the caller's, so a
/// failover neither repeats nor skips an offset.
/// </summary>
internal sealed class PartitionReader(CachedLogs metadata, ConsumerOptions options, CachedLog cached, int partition)
{
    private static readonly TimeSpan BaseBackoff = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(1);

    private readonly ConsumerOptions _options = options;
    private readonly TimeProvider _time = metadata.Time;
    // The log as last read: a replica move changes a partition's slots, so each round of failures takes the newest.
    private CachedLog _cached = cached;
    private int _slot = cached.Leader(partition);
    private int _failures;

    public async Task<ulong> StartAsync(ConsumeFrom from, CancellationToken ct)
    {
        switch (from)
        {
            case ConsumeFrom.AtOffset at:
                return at.Value;
            case ConsumeFrom.EarliestRecord:
                return (await CallAsync(static r => r.GetStatusAsync(), null, _options.HedgeAfter, _options.RequestTimeout, ct).ConfigureAwait(false)).FirstOffset;
            case ConsumeFrom.AtTime at:
                var time = at.Value;
                return await FurthestAsync(r => r.FindOffsetAsync(time), ct).ConfigureAwait(false);
            case ConsumeFrom.LatestRecord:
                return await FurthestAsync(static async r => (await r.GetStatusAsync().ConfigureAwait(false)).NextOffset, ct).ConfigureAwait(false);
            default:
                throw new ArgumentOutOfRangeException(nameof(from), from, "not a ConsumeFrom this consumer knows");
        }
    }

    /// <summary>Records from <paramref name="position"/>: a long poll at the end of the partition, a plain read otherwise.</summary>
    public Task<ReadBatch> FetchAsync(ulong position, bool atEnd, CancellationToken ct)
    {
        var maxBytes = _options.MaxBytes;
        var maxWait = _options.MaxWait;
        return atEnd
            ? CallAsync(r => r.PollAsync(position, maxBytes, maxWait), position, maxWait + _options.HedgeAfter, maxWait + _options.RequestTimeout, ct)
            : CallAsync(r => r.ReadAsync(position, maxBytes), position, _options.HedgeAfter, _options.RequestTimeout, ct);
    }

    /// <summary>
    /// A start position that a replica answers from what it has applied (the committed end; the first record appended
    /// at or after a time, or its end when it has none yet): every replica that answers is asked at once and the
    /// furthest answer taken, since a replica that is behind only ever answers short of the leader's.
    /// </summary>
    private async Task<ulong> FurthestAsync(Func<IPartitionReplicaGrain, Task<ulong>> ask, CancellationToken ct)
    {
        while (true)
        {
            var slots = _cached.Info.ReplicaSlots(partition);
            var answers = new Task<ulong>[slots.Length];
            for (var i = 0; i < slots.Length; i++)
            {
                answers[i] = ask(Replica(slots[i])).WaitAsync(_options.RequestTimeout, _time, ct);
            }

            ulong? latest = null;
            Exception? last = null;
            for (var i = 0; i < slots.Length; i++)
            {
                try
                {
                    var next = await answers[i].ConfigureAwait(false);
                    latest = latest is { } known ? Math.Max(known, next) : next;
                }
                catch (Exception e) when (IsFailover(e))
                {
                    last = e;
                    metadata.ReplicaFailed(_cached.Info.ReplicaKey(partition, slots[i]), e);
                }
            }

            if (latest is { } end)
            {
                return end;
            }

            await CheckLogAsync(last!).ConfigureAwait(false);
            await BackoffAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Calls the current replica, failing over as the class says (and hedging, see <see cref="HedgedAsync"/>). A read
    /// whose <paramref name="position"/> is below the first retained offset or beyond the committed end is the caller's
    /// error and is thrown (the server's message names the bound).
    /// </summary>
    private async Task<T> CallAsync<T>(Func<IPartitionReplicaGrain, Task<T>> call, ulong? position, TimeSpan hedgeAfter, TimeSpan timeout, CancellationToken ct)
    {
        List<int>? damaged = null; // the slots whose copy answered that it is damaged, since the last other answer
        while (true)
        {
            var replica = Replica(_slot);
            Exception failure;
            try
            {
                var (answer, slot) = await HedgedAsync(call, _slot, hedgeAfter, timeout, ct).ConfigureAwait(false);
                (_slot, _failures) = (slot, 0);
                return answer;
            }
            catch (ArgumentOutOfRangeException e) when (position is not null)
            {
                if (await FirstOffsetAsync(replica, ct).ConfigureAwait(false) is { } first && position < first)
                {
                    throw;
                }

                if (await BeyondCommittedEndAsync(position.Value, ct).ConfigureAwait(false) is { } beyond)
                {
                    throw beyond;
                }

                failure = e; // beyond what this replica has applied: it is behind
            }
            catch (Exception e) when (IsFailover(e))
            {
                failure = e;
                metadata.ReplicaFailed(_cached.Info.ReplicaKey(partition, _slot), e);
            }

            if (!IsDamage(failure))
            {
                damaged = null;
            }
            else if (!(damaged ??= []).Contains(_slot))
            {
                damaged.Add(_slot);
                if (damaged.Count >= _cached.Info.ReplicaSlots(partition).Length)
                {
                    // No intact copy to fail over to: the caller is told, rather than waiting for ever.
                    throw new InvalidDataException(
                        $"every replica of partition {partition} of log '{_cached.Info.Name}' answered that its copy is damaged{(position is { } at ? $" at offset {at}" : "")}: {failure.Message}", failure);
                }
            }

            await CheckLogAsync(failure).ConfigureAwait(false);
            _slot = _cached.Info.NextReplica(partition, _slot);
            if (_slot == _cached.Leader(partition) || _cached.Info.ReplicaSlots(partition).Length == 1)
            {
                await BackoffAsync(ct).ConfigureAwait(false); // every replica was tried: pause before the next round
            }
        }
    }

    /// <summary>
    /// Calls the replica in <paramref name="slot"/>; when it has not answered within <paramref name="hedgeAfter"/> the
    /// same call goes to the next replica too, and the first success is taken, with the slot that answered. What the
    /// replica in <paramref name="slot"/> answers decides everything else: its failure is thrown, and a hedge that failed
    /// or answered that it is behind is dropped. So a hedge only ever brings an answer sooner.
    /// </summary>
    private async Task<(T Answer, int Slot)> HedgedAsync<T>(Func<IPartitionReplicaGrain, Task<T>> call, int slot, TimeSpan hedgeAfter, TimeSpan timeout, CancellationToken ct)
    {
        var answer = call(Replica(slot)).WaitAsync(timeout, _time, ct);
        if (hedgeAfter >= timeout || _cached.Info.ReplicaSlots(partition).Length == 1)
        {
            return (await answer.ConfigureAwait(false), slot);
        }

        using (var waiting = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            if (await Task.WhenAny(answer, Task.Delay(hedgeAfter, _time, waiting.Token)).ConfigureAwait(false) == answer)
            {
                await waiting.CancelAsync().ConfigureAwait(false);
                return (await answer.ConfigureAwait(false), slot);
            }
        }

        var next = _cached.Info.NextReplica(partition, slot);
        var hedge = call(Replica(next)).WaitAsync(timeout - hedgeAfter, _time, ct);
        await Task.WhenAny(answer, hedge).ConfigureAwait(false);
        if (!answer.IsCompletedSuccessfully)
        {
            // The replica failed, or has not answered yet: the hedge's answer, if it brings one.
            await ((Task)hedge).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (hedge.IsCompletedSuccessfully)
            {
                AbandonedCall.Observe(answer);
                return (await hedge.ConfigureAwait(false), next);
            }
        }

        AbandonedCall.Observe(hedge);
        return (await answer.ConfigureAwait(false), slot);
    }

    /// <summary>
    /// Whether <paramref name="position"/> lies beyond the partition's committed end and not only beyond what the current
    /// replica has applied: a linearizable read there (a follower forwards it to its leader) answers
    /// from a state that holds every commit made before it was asked. Its refusal is the caller's error (an offset from
    /// another log or a recreated one, or records an os-cache log lost with a majority of its page caches); anything
    /// else, a failure or a record appended meanwhile, leaves the call to fail over or retry as before.
    /// </summary>
    private async Task<ArgumentOutOfRangeException?> BeyondCommittedEndAsync(ulong position, CancellationToken ct)
    {
        try
        {
            // Hedged too: a follower forwards the read to its leader, whose silo may have just died unnoticed, while any
            // sibling's linearizable read answers the same question.
            await HedgedAsync(r => r.ReadAsync(position, 1, linearizable: true), _slot, _options.HedgeAfter, _options.RequestTimeout, ct).ConfigureAwait(false);
            return null;
        }
        catch (ArgumentOutOfRangeException e)
        {
            return e;
        }
        catch (Exception e) when (IsFailover(e))
        {
            return null;
        }
    }

    private async Task<ulong?> FirstOffsetAsync(IPartitionReplicaGrain replica, CancellationToken ct)
    {
        try
        {
            return (await replica.GetStatusAsync().WaitAsync(_options.RequestTimeout, _time, ct).ConfigureAwait(false)).FirstOffset;
        }
        catch (Exception e) when (IsFailover(e))
        {
            return null;
        }
    }

    // A replica whose copy fails a checksum (the store's corruption error reaches the client as Orleans' fallback for a
    // type it does not know) or does not decode: its siblings hold intact copies, and Raft never moves a leader for it.
    private static bool IsDamage(Exception e) => e is InvalidDataException or Orleans.Serialization.UnavailableExceptionFallbackException;

    private static bool IsFailover(Exception e) => e is TimeoutException or OrleansException or NotLeaderException or InvalidOperationException || IsDamage(e);

    /// <summary>A replica that knows no such log may be a sign the log was deleted: the metadata group says.</summary>
    private async Task CheckLogAsync(Exception failure)
    {
        bool deleted;
        try
        {
            deleted = failure is InvalidOperationException && await metadata.IsDeletedAsync(_cached).ConfigureAwait(false);
        }
        catch (Exception check) when (IsFailover(check))
        {
            deleted = false; // the metadata group did not answer (or has no leader yet): the next failed read asks again
        }

        if (deleted)
        {
            throw new InvalidOperationException($"log '{_cached.Info.Name}' was deleted", failure);
        }

        if (failure is TimeoutException or OrleansException or InvalidOperationException)
        {
            metadata.RefreshInBackground(_cached.Info.Name); // a silo lost, or a slot gone by a replica move
        }

        if (metadata.TryGet(_cached.Info.Name, out var latest) && latest.Info.Id == _cached.Info.Id)
        {
            _cached = latest;
        }
    }

    private Task BackoffAsync(CancellationToken ct)
    {
        var delay = BaseBackoff * Math.Pow(2, Math.Min(_failures++, 5));
        return Task.Delay(delay > MaxBackoff ? MaxBackoff : delay, _time, ct);
    }

    private IPartitionReplicaGrain Replica(int slot) => metadata.Replica(_cached.Info.ReplicaKey(partition, slot));
}
