using Pyralog.Client.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/// <summary>
/// A partition producer's sending: handing decided batches to Orleans in the order they were decided, each request's
/// answer, and finding the leader when one does not answer (see the design comment in PartitionProducer.cs).
/// </summary>
internal sealed partial class PartitionProducer
{
    /// <summary>
    /// Sends or gives up what <see cref="PumpLocked"/> queued, in the order it was decided, whichever thread decided it.
    /// </summary>
    private void Start()
    {
        lock (_startGate)
        {
            if (_starting)
            {
                return; // this thread is in the loop below (a send that failed at once pumped again): it goes on there, in order
            }

            _starting = true;
            try
            {
                while (true)
                {
                    PendingBatch? chain;
                    lock (_gate)
                    {
                        chain = _toStart.Head;
                        _toStart = default;
                    }

                    if (chain is null)
                    {
                        return;
                    }

                    while (chain is not null)
                    {
                        var next = chain.NextToSend;
                        chain.NextToSend = null;
                        if (chain.InFlight)
                        {
                            _ = SendAsync(chain);
                        }
                        else
                        {
                            Finish(chain, chain.GiveUp!);
                        }

                        chain = next;
                    }
                }
            }
            finally
            {
                _starting = false;
            }
        }
    }

    private async Task SendAsync(PendingBatch batch)
    {
        var cached = _log.Cached;
        var slot = cached.Leader(_partition);
        using var span = ClientInstruments.Source.StartActivity("pyralog.produce", System.Diagnostics.ActivityKind.Producer, batch.Trace);
        if (span is not null && batch.Trace == default)
        {
            batch.Trace = span.Context;
        }

        span?.SetTag("pyralog.log", cached.Info.Name);
        span?.SetTag("pyralog.partition", _partition);
        span?.SetTag("pyralog.records", batch.Acks.Count);
        Task<AppendAck>? call = null;
        AppendAck ack;
        var key = cached.Info.ReplicaKey(_partition, slot);
        try
        {
            var replica = _producer.Metadata.Replica(key);
            call = batch.Wire is { } wire ? replica.ProduceAsync(wire) : replica.AppendAsync(batch.Plain!);
            ack = await AnswerAsync(call, cached, slot).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _producer.Metadata.ReplicaFailed(key, e);
            if (call is { IsCompleted: false })
            {
                // The request outlived its timeout; whatever it ends with later is of no use, but must be observed.
                AbandonedCall.Observe(call);
            }

            await OnFailedAsync(batch, slot, e).ConfigureAwait(false);
            return;
        }

        OnAcknowledged(batch, ack);
    }

    /// <summary>
    /// The answer of <paramref name="call"/> to the replica in <paramref name="slot"/>, waited for up to the request
    /// timeout; every <see cref="ProducerOptions.LeaderCheckAfter"/> without one, the partition's other replicas are
    /// asked who leads, and the wait ends with <see cref="LeaderMovedException"/> once another replica does.
    /// </summary>
    private async Task<AppendAck> AnswerAsync(Task<AppendAck> call, CachedLog cached, int slot)
    {
        var started = _time.GetTimestamp();
        while (true)
        {
            var left = _options.RequestTimeout - _time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"no answer within the request timeout ({_options.RequestTimeout})");
            }

            try
            {
                return await call.WaitAsync(left < _options.LeaderCheckAfter ? left : _options.LeaderCheckAfter, _time).ConfigureAwait(false);
            }
            catch (TimeoutException) when (!call.IsCompleted && left > _options.LeaderCheckAfter)
            {
            }

            var leader = await LookForLeaderAsync(cached, slot).ConfigureAwait(false);
            if (leader >= 0 && leader != slot && !call.IsCompleted)
            {
                throw new LeaderMovedException(cached.Info.ReplicaKey(_partition, slot), cached.Info.ReplicaKey(_partition, leader), _time.GetElapsedTime(started));
            }
        }
    }

    /// <summary>
    /// Which replica leads according to the partition's replicas other than <paramref name="suspect"/> (-1 when they
    /// name none, or still name the suspect). One look is shared by every request in flight to the suspect within half a
    /// check interval. The answer with the highest term wins: a leader, or the leader a follower names.
    /// </summary>
    private Task<int> LookForLeaderAsync(CachedLog cached, int suspect)
    {
        lock (_gate)
        {
            if (_leaderLook is { } look && _leaderLookSlot == suspect && _time.GetElapsedTime(_leaderLookAt) < _options.LeaderCheckAfter / 2)
            {
                return look;
            }

            _leaderLookSlot = suspect;
            _leaderLookAt = _time.GetTimestamp();
            return _leaderLook = LookAsync();
        }

        async Task<int> LookAsync()
        {
            await Task.Yield(); // started under _gate: never run the calls there
            var asks = new List<Task<ReplicaStatus>>();
            foreach (var r in cached.Info.ReplicaSlots(_partition))
            {
                if (r != suspect)
                {
                    try
                    {
                        asks.Add(_producer.Metadata.Replica(cached.Info.ReplicaKey(_partition, r)).GetStatusAsync());
                    }
                    catch (Exception e)
                    {
                        asks.Add(Task.FromException<ReplicaStatus>(e)); // a look that fails only finds no leader
                    }
                }
            }

            try
            {
                await Task.WhenAll(asks).WaitAsync(_options.LeaderCheckAfter, _time).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Some did not answer (one may have been on the lost silo too): the others' answers still count.
            }

            ReplicaStatus? newest = null;
            foreach (var ask in asks)
            {
                if (ask.IsCompletedSuccessfully && (newest is null || ask.Result.Term > newest.Term))
                {
                    newest = ask.Result;
                }
                else if (!ask.IsCompleted || ask.IsFaulted)
                {
                    AbandonedCall.Observe(ask);
                }
            }

            if (newest is null)
            {
                return -1;
            }

            var leader = newest.Role == ReplicaRole.Leader && ReplicaGrainKey.TryParse(newest.Key, out var key) ? key.Replica : newest.LeaderReplica;
            return cached.Info.HasReplica(_partition, leader) && leader != suspect ? leader : -1;
        }
    }

    /// <summary>Whether <paramref name="leaderKey"/> names the replica of this partition a request failed to reach within <see cref="UnreachableFor"/>.</summary>
    private bool NamesUnreachable(CachedLog cached, string leaderKey)
    {
        var slot = cached.SlotNamed(_partition, leaderKey);
        lock (_gate)
        {
            return slot >= 0 && slot == _unreachableSlot && _time.GetElapsedTime(_unreachableAt) < UnreachableFor;
        }
    }
}
