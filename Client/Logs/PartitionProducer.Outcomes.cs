using Pyralog.Client.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/// <summary>
/// A partition producer's outcomes: a batch acknowledged, a request failed (retried, redirected, or given up), a batch's
/// records completed (see the design comment in PartitionProducer.cs).
/// </summary>
internal sealed partial class PartitionProducer
{
    private void OnAcknowledged(PendingBatch batch, AppendAck ack)
    {
        lock (_gate)
        {
            batch.InFlight = false;
            _inFlight--;
            _queue.Remove(batch);
            _failures = 0;
            _unreachableSlot = -1;
            if (_open is not null)
            {
                _open.Due = true;
            }

            if (batch.Wire is { } wire && wire.ProducerId == _producerId)
            {
                _confirmed = true;
            }

            if (_probe == batch)
            {
                // Recovered, unless a batch behind the probe was refused meanwhile: recovery gives that one up first.
                _probe = null;
                _recovering = _queue.Exists(static b => b.GiveUp is not null);
            }

            PumpLocked(_time.GetTimestamp());
        }

        for (var i = 0; i < batch.Acks.Count; i++)
        {
            batch.Acks[i].TrySetResult(new RecordAck(_partition, ack.Epoch, ack.FirstOffset + (ulong)i, ack.Duplicate));
        }

        ClientInstruments.ProducedRecords.Add(batch.Acks.Count, ClientInstruments.LogTags(LogName));

        batch.Done.TrySetResult();
        _producer.Release(batch.Bytes - ProducerOptions.BatchHeaderBytes);
        Start();
    }

    private async Task OnFailedAsync(PendingBatch batch, int slot, Exception error)
    {
        var kind = ProduceErrors.Classify(error);
        ProduceException? giveUp = null;
        var electing = false;
        var cached = _log.Cached;
        switch (kind)
        {
            case ProduceErrorKind.NotLeader when ((NotLeaderException)error).LeaderReplicaKey is { } leader:
                if (NamesUnreachable(cached, leader))
                {
                    electing = true; // the sibling has not noticed the loss yet: it elects a leader soon
                    break;
                }

                if (!cached.FollowHint(_partition, leader))
                {
                    _producer.Metadata.RefreshInBackground(LogName); // a move gave the partition a slot this client has not read
                }

                break;
            case ProduceErrorKind.Transient when error is LeaderMovedException moved:
                if (!cached.FollowHint(_partition, moved.LeaderReplicaKey)) // outcome unknown, but the new leader is known
                {
                    _producer.Metadata.RefreshInBackground(LogName);
                }

                break;
            case ProduceErrorKind.Transient:
                cached.Skip(_partition, slot); // the replica may be gone with its silo; another one knows the leader
                _producer.Metadata.RefreshInBackground(LogName);
                break;
            case ProduceErrorKind.CheckLog or ProduceErrorKind.Fatal:
                try
                {
                    if (await _producer.Metadata.IsDeletedAsync(cached).ConfigureAwait(false))
                    {
                        giveUp = Failure(batch, LogName, _partition, $"log '{LogName}' was deleted", error, refused: true);
                    }
                    else if (kind == ProduceErrorKind.Fatal)
                    {
                        giveUp = Failure(batch, LogName, _partition, "unexpected error", error);
                    }
                }
                catch (Exception)
                {
                    // The metadata group did not answer either, or failed (no leader for long, a replica of it stopped
                    // after a failure): try again later, bounded by the delivery timeout (an unexpected error fails the
                    // batch). Whatever the check threw, the batch must leave flight below, or it and the partition's
                    // pipeline would wait forever.
                    giveUp = kind == ProduceErrorKind.Fatal ? Failure(batch, LogName, _partition, "unexpected error", error) : null;
                }

                break;
            case ProduceErrorKind.Rejected:
                giveUp = Failure(batch, LogName, _partition, "the partition refused the batch, nothing was appended", error, refused: true);
                break;
            case ProduceErrorKind.TooOld:
                giveUp = Failure(batch, LogName, _partition, "the partition no longer remembers the batch, so whether it was appended cannot be told", error);
                break;
            case ProduceErrorKind.UnknownProducer when batch.MaybeAppended:
                // An earlier attempt went unanswered: it may have been appended before the partition forgot the producer.
                giveUp = Failure(batch, LogName, _partition,
                    "the partition no longer remembers this producer and an earlier attempt of the batch went unanswered, so the records may have been appended; " +
                    "they are not sent again, which could append them twice (a possible duplicate)", error);
                break;
        }

        lock (_gate)
        {
            batch.InFlight = false;
            _inFlight--;
            batch.LastError = error;
            batch.MaybeAppended |= kind == ProduceErrorKind.Transient;
            batch.ProducerUnknown = kind == ProduceErrorKind.UnknownProducer && giveUp is null;
            batch.GiveUp ??= giveUp;
            var alone = batch.SentAlone;
            if (_probe == batch)
            {
                _probe = null;
            }

            // Ahead of the partition's sequence though nothing before it was unacknowledged when it was sent: the hole
            // is not ours to fill (the partition forgot this producer's batches): continue under a fresh id. Sent
            // behind a batch in flight, it may only have overtaken that one (requests to a grain can arrive in any
            // order), even if that one was acknowledged before this refusal came back: it is resent, not renumbered.
            _restartSession |= kind == ProduceErrorKind.OutOfSequence && alone;
            _recovering = true;
            var now = _time.GetTimestamp();
            if (kind == ProduceErrorKind.Transient && error is not (TimeoutException or LeaderMovedException))
            {
                // The transport failed at once (a timeout may be an overloaded leader, alive: it is not suspected).
                _unreachableSlot = slot;
                _unreachableAt = now;
            }

            var redirected = (kind == ProduceErrorKind.NotLeader || error is LeaderMovedException) && cached.Leader(_partition) != slot;
            // Unknown producer: the partition is well and the batch goes under a fresh id (or after the earlier ones): no backoff.
            _retryAt = now + (redirected || kind == ProduceErrorKind.UnknownProducer || (kind == ProduceErrorKind.OutOfSequence && !alone) ? 0
                : electing || error is NotLeaderException { LeaderReplicaKey: null } ? ElectionPollTicksLocked()
                : BackoffTicksLocked());
            if (giveUp is null)
            {
                ClientInstruments.ProduceRetries.Add(1, ClientInstruments.LogTags(LogName));
            }

            PumpLocked(now);
        }

        Start();
    }

    private void Finish(PendingBatch batch, Exception error)
    {
        for (var i = 0; i < batch.Acks.Count; i++)
        {
            batch.Acks[i].TrySetException(error);
        }

        batch.Done.TrySetResult();
        _producer.Release(batch.Bytes - ProducerOptions.BatchHeaderBytes);
    }
}
