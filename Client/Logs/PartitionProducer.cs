using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/*
 * PartitionProducer: one partition's side of a LogProducer — the batch accumulating, the batches sent and waiting,
 * and the rules by which they are sent, retried and given up.
 *
 * Guarantees (idempotent mode, the default):
 *  - A record is acknowledged at most once per ProduceAsync and, while its batch is retried, appended at most once:
 *    a batch keeps its producer id and sequence (the same ProducerBatch object) across every attempt, so a leader that
 *    already holds it (an acknowledgement lost to a timeout, a silo loss, a leader change) answers Duplicate with the
 *    original address instead of appending it again.
 *  - Records of one partition are appended in ProduceAsync order, failed records aside. Batches are numbered in order
 *    when first sent and at most MaxInFlight are in flight; the leader accepts only the next sequence, so a batch that
 *    overtakes a lost one is refused (out of sequence) and resent after it. Nor is a batch sent MaxInFlight or more
 *    batches after the oldest one not yet acknowledged: answers arrive in any order, and that oldest batch, resent
 *    after a lost answer, must still be among the 5 batches the partition remembers. Until the partition acknowledged a batch
 *    of the current producer id, one batch at a time is in flight: a leader that does not know the id accepts only
 *    sequence 0, so a second batch reaching it first would be refused, and a first batch (sequence 0) whose
 *    acknowledgement is lost is the one retry a leader that forgot the id cannot tell from a new producer: one such
 *    batch at most, not a window of them.
 *  - After any failed request the partition recovers: it sends nothing new until every request in flight has settled,
 *    then resends the oldest unacknowledged batch alone (after a backoff, or at once when redirected to the leader)
 *    and pipelines again once that one is acknowledged.
 *  - A request the leader leaves unanswered for LeaderCheckAfter makes the producer ask the partition's other replicas
 *    who leads (again at that interval up to RequestTimeout); once another replica leads, every request in flight to
 *    the old leader is given up as "outcome unknown" (LeaderMovedException) and recovery resends from the oldest
 *    unacknowledged batch to the new leader at once. That is safe for a whole in-flight window: a batch keeps its
 *    producer id and sequence, the new leader holds every batch the old one committed (Raft), and its producer table
 *    remembers the last 5 batches per producer (MaxInFlight is at most 5), so each resent batch that was appended is
 *    answered Duplicate with its original address, and one that was not is appended in sequence. A late answer of a
 *    request given up is ignored. Without it, a dead leader's requests waited out RequestTimeout (5 s by default).
 *  - A batch is given up — its records' tasks fail with ProduceException — when the server refuses it (a record over
 *    the log's limit: nothing was appended), when the partition no longer remembers it (TooOld: the outcome cannot be
 *    told), when the log was deleted, on an unexpected error, or when its DeliveryTimeout passes (counted from its first
 *    record). Giving up a batch that was sent leaves a hole in the sequence, so the partition continues under a fresh
 *    producer id from sequence 0 (Kafka bumps its producer epoch for the same reason). Later batches that were sent and
 *    might have been appended (an attempt timed out) are given up too rather than renumbered: renumbered, they could be
 *    appended twice; batches only ever refused are renumbered and sent again.
 *  - A partition that does not remember the producer id (it forgot the producer: more than 1,024 others appended
 *    since, Kafka's UNKNOWN_PRODUCER_ID) refuses any batch but a first one at sequence 0, and appends nothing. What the
 *    producer does depends on what may be in the log:
 *      - The refused batch is the oldest unacknowledged one (every earlier batch of the id was acknowledged) and every
 *        attempt of it was refused: it was never appended, and nothing after it can have been (the partition appends
 *        a producer's batches only in sequence). The partition continues under a fresh producer id from sequence 0
 *        and resends it (counted as a retry), as Kafka's producer does after KIP-360. A new id rather than sequence 0
 *        under the old one, as after a batch is given up: the old id's batches and the new sequence never mix, so no
 *        attempt of an old batch can be taken for (or answered as a duplicate of) a new one.
 *      - An earlier attempt of the refused batch went unanswered (MaybeAppended): it may have been appended before
 *        the partition forgot the producer, and resent under any id it could be appended twice. Its records fail with
 *        ProduceException saying they may have been appended; never resent.
 *      - Earlier batches are still unacknowledged (in flight, or failed without an answer): their outcome is open, so
 *        nothing goes under a fresh id yet. Recovery waits for them and resends the oldest under its own id and
 *        sequence: the partition answers it (as a duplicate with its original address if it holds it) or refuses it
 *        too, which is one of the two cases above for that batch. So a batch that may have been appended fails with
 *        ProduceException instead of going under the fresh id, and the refused batch goes there only once every batch
 *        before it is acknowledged or failed.
 *
 * Without idempotence the batches go through AppendAsync: a retry after a lost acknowledgement may append a batch
 * twice, and a retried batch may land after a later one.
 *
 * Threading: every field is guarded by _gate; nothing awaits under it. Sends and failures are decided under the lock
 * (linked through PendingBatch.NextToSend, queued in _toStart) and carried out after it is released, in the order they
 * were decided (_startGate), so batches reach the leader in sequence order.
 */

/// <summary>One partition's batching, sending and retrying for a <see cref="LogProducer"/> (see the design comment above).</summary>
internal sealed partial class PartitionProducer
{
    /// <summary>A timestamp not read yet (see <see cref="Now"/>): reading the clock per record cost 0.5 % of a loaded machine's CPU.</summary>
    private const long ClockNotRead = long.MinValue;

    private static readonly TimeSpan BaseBackoff = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(1);

    // A replica that answers it knows no leader belongs to a partition electing one, which takes a few election timeouts
    // (a fraction of a second by default). Retries then come at this fixed pace (with jitter, 50–100 ms): an exponential
    // backoff would overshoot the election's end by up to its last step, most of a second.
    private static readonly TimeSpan ElectionPoll = TimeSpan.FromMilliseconds(100);

    // How long a replica the transport could not reach stays suspected (see _unreachableSlot).
    private static readonly TimeSpan UnreachableFor = TimeSpan.FromSeconds(1);

    private readonly LogProducer _producer;
    private readonly ProducerLog _log;
    private readonly int _partition;
    private readonly ProducerOptions _options;
    private readonly TimeProvider _time;
    private readonly long _deliveryTicks;
    private readonly Lock _gate = new();

    // Batches decided on (to send or to give up) and not yet handed on, in the order they were decided (under _gate).
    // Invariant: a batch goes to Orleans only after every batch decided before it, whichever threads decided them: the
    // leader accepts only a producer's next sequence, and two threads that each released the lock with a batch to send
    // used to send them crosswise (the overtaking one refused as out of sequence, and the partition then recovered, its
    // pipeline drained, several times a second under load).
    private BatchChain _toStart;

    // Held while handing batches on (taken without _gate held; takes _gate only briefly); _starting under it.
    private readonly Lock _startGate = new();
    private bool _starting;

    // Invariants (under _gate): _queue holds the sealed, unfinished batches in the order their records were produced.
    // Outside recovery the batches in flight are exactly _queue[0.._inFlight). _producerId 0: an id is still needed.
    private readonly List<PendingBatch> _queue = [];
    private readonly Random _random;
    private PendingBatch? _open;
    private int _inFlight;
    private bool _recovering;
    private PendingBatch? _probe;
    private long _retryAt;
    private int _failures;
    private long _producerId;

    // The replica a request last failed to reach (its silo is lost, most likely) and when; -1: none since the last
    // acknowledgement. Its siblings go on naming it as leader until they miss its heartbeats for an election timeout
    // and elect another (a few hundred ms): following that hint straight back made every round a failure, and the
    // backoff grew until it overshot the election by up to 400 ms. For UnreachableFor a sibling that names it is asked
    // again at the election pace instead; a suspect that is alive after all is followed once the mark expires.
    private int _unreachableSlot = -1;
    private long _unreachableAt;
    private bool _firstSession = true;
    private bool _fetchingId;
    private long _nextSequence;

    // The Ordinal the next idempotent batch gets. Invariant: only grows (across producer ids too).
    private long _nextOrdinal;
    private bool _confirmed;
    private bool _restartSession;
    private ITimer? _lingerTimer;
    private ITimer? _retryTimer;

    // The last look at who leads (see LookForLeaderAsync), shared by the requests in flight to the slot it suspects.
    private Task<int>? _leaderLook;
    private int _leaderLookSlot;
    private long _leaderLookAt;

    public PartitionProducer(LogProducer producer, ProducerLog log, int partition, int seed)
    {
        _producer = producer;
        _log = log;
        _partition = partition;
        _options = producer.Options;
        _time = producer.Time;
        _deliveryTicks = Ticks(_options.DeliveryTimeout);
        _random = new Random(seed);
    }

    private string LogName => _log.Name;

    /// <summary>Adds an admitted record to the open batch, sealing it when full, and sends what may go.</summary>
    public void Append(ProducerRecord record, TaskCompletionSource<RecordAck> ack, int bytes)
    {
        bool handOn;
        lock (_gate)
        {
            var now = ClockNotRead; // most records join the open batch and send nothing: no clock read for them
            if (_open is not null && _open.Bytes + bytes > _options.MaxBatchBytes)
            {
                SealLocked();
            }

            if (_open is null)
            {
                now = _time.GetTimestamp();
                // Saturating: a DeliveryTimeout of TimeSpan.MaxValue (retry until acknowledged) would overflow to the past.
                var deadline = now > long.MaxValue - _deliveryTicks ? long.MaxValue : now + _deliveryTicks;
                // While a flush waits (or the producer is closing), a batch opened now may hold records it waits for
                // (admitted after it began, from the buffer's queue or a metadata line): it goes without a linger.
                var flushing = _producer.Flushing;
                _open = new PendingBatch(now, deadline) { Ready = flushing || _options.Linger == TimeSpan.Zero, Due = flushing };
                if (!_open.Ready)
                {
                    _lingerTimer ??= _time.CreateTimer(static s => ((PartitionProducer)s!).OnLinger(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    _lingerTimer.Change(_options.Linger, Timeout.InfiniteTimeSpan);
                }
            }

            _open.Records.Add(record);
            _open.Acks.Add(ack);
            _open.Bytes += bytes;
            if (_open.Bytes >= _options.MaxBatchBytes)
            {
                SealLocked();
            }

            PumpLocked(now);
            handOn = _toStart.Head is not null; // most records join a batch and decide no send: no second lock for them
        }

        if (handOn)
        {
            Start(); // whoever queues a batch to hand on calls Start, so one left behind by another thread is that thread's to hand on
        }
    }

    /// <summary>Marks the open batch ready and adds what FlushAsync must wait for: every batch not finished yet.</summary>
    public void CollectUnfinished(List<Task> into)
    {
        lock (_gate)
        {
            foreach (var batch in _queue)
            {
                into.Add(batch.Done.Task);
            }

            if (_open is not null)
            {
                _open.Ready = true;
                _open.Due = true;
                into.Add(_open.Done.Task);
            }

            PumpLocked(_time.GetTimestamp());
        }

        Start();
    }

    /// <summary>Whether the partition has no record batched and no batch unfinished.</summary>
    public bool Idle
    {
        get
        {
            lock (_gate)
            {
                return _open is null && _queue.Count == 0 && _toStart.Head is null;
            }
        }
    }

    public void DisposeTimers()
    {
        lock (_gate)
        {
            _lingerTimer?.Dispose();
            _retryTimer?.Dispose();
        }
    }

    private static ProduceException Failure(PendingBatch batch, string log, int partition, string reason, Exception? inner, bool refused = false) =>
        new(log, partition, batch.Count, reason, inner) { Refused = refused };

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    private void OnLinger()
    {
        lock (_gate)
        {
            if (_open is null || _open.Ready)
            {
                return;
            }

            var left = _options.Linger - _time.GetElapsedTime(_open.OpenedAt);
            if (left > TimeSpan.Zero)
            {
                // The timer was armed for an earlier batch that has been sealed since: wait out this one's linger.
                _lingerTimer!.Change(left, Timeout.InfiniteTimeSpan);
                return;
            }

            _open.Ready = true;
            PumpLocked(_time.GetTimestamp());
        }

        Start();
    }

    private void OnRetry()
    {
        lock (_gate)
        {
            PumpLocked(_time.GetTimestamp());
        }

        Start();
    }

    private void SealLocked()
    {
        var sealedBatch = _open!;
        sealedBatch.Ready = true;
        _queue.Add(sealedBatch);
        _open = null;
        _log.Sealed(_partition);
    }

    /// <summary>
    /// Decides what to send or give up now and queues it behind what was decided before; <see cref="Start"/> carries it
    /// out after the lock.
    /// </summary>
    /// <param name="now">The clock's timestamp, or <see cref="ClockNotRead"/>: read when a decision needs it.</param>
    private void PumpLocked(long now) => _toStart.Append(ChooseLocked(now));

    /// <summary><paramref name="now"/>, reading the clock into it first if it was not read yet.</summary>
    private long Now(ref long now) => now != ClockNotRead ? now : now = _time.GetTimestamp();

    /// <summary>What to send or give up now, linked through <see cref="PendingBatch.NextToSend"/>.</summary>
    private PendingBatch? ChooseLocked(long now)
    {
        var chain = default(BatchChain);
        if (_recovering)
        {
            Now(ref now);
            if (_inFlight > 0)
            {
                return null; // settle first: what is in flight decides what must be resent
            }

            if (_restartSession)
            {
                _restartSession = false;
                RestartSessionLocked(ref chain);
            }
            else if (_queue.Count > 0 && _queue[0] is { ProducerUnknown: true, GiveUp: null })
            {
                // The partition forgot the producer, every batch before the oldest unacknowledged one is settled and that
                // one was never appended (every attempt refused), so nothing after it was either: continue under a fresh
                // id from 0 (see the design comment).
                RestartSessionLocked(ref chain);
            }

            while (_queue.Count > 0)
            {
                var first = _queue[0];
                if (first.GiveUp is null && now >= first.Deadline)
                {
                    first.GiveUp = Failure(first, LogName, _partition, $"no acknowledgement within the delivery timeout ({_options.DeliveryTimeout})", first.LastError);
                }

                if (first.GiveUp is null)
                {
                    break;
                }

                _queue.RemoveAt(0);
                chain.Add(first);
                if (first.Sent && _producer.Options.Idempotent)
                {
                    RestartSessionLocked(ref chain);
                }
            }

            if (_queue.Count > 0)
            {
                if (now < _retryAt)
                {
                    _retryTimer ??= _time.CreateTimer(static s => ((PartitionProducer)s!).OnRetry(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    _retryTimer.Change(TimeSpan.FromSeconds((double)(_retryAt - now) / _time.TimestampFrequency), Timeout.InfiniteTimeSpan);
                    return chain.Head;
                }

                var probe = _queue[0];
                if (AssignLocked(probe))
                {
                    probe.SentAlone = _inFlight == 0;
                    probe.InFlight = true;
                    _inFlight++;
                    _probe = probe;
                    chain.Add(probe);
                }

                return chain.Head;
            }

            _recovering = false;
        }

        var limit = !_options.Idempotent || _confirmed ? _options.MaxInFlight : 1;
        while (_inFlight < limit)
        {
            PendingBatch next;
            if (_inFlight < _queue.Count)
            {
                next = _queue[_inFlight];
            }
            else if (_open is { Ready: true } && !HoldLocked(_open))
            {
                SealLocked();
                next = _queue[^1];
            }
            else
            {
                break;
            }

            if (!next.Sent && Now(ref now) >= next.Deadline)
            {
                // Never sent, so it holds no sequence number: failing it leaves no hole.
                next.GiveUp = Failure(next, LogName, _partition, $"not sent within the delivery timeout ({_options.DeliveryTimeout})", next.LastError);
                _queue.RemoveAt(_inFlight);
                chain.Add(next);
                continue;
            }

            if (_options.Idempotent && _queue[0] is { Sent: true } oldest && oldest != next &&
                (next.Sent ? next.Ordinal : _nextOrdinal) - oldest.Ordinal >= limit)
            {
                break; // the oldest unacknowledged batch must stay among those the partition remembers
            }

            if (!AssignLocked(next))
            {
                break;
            }

            next.SentAlone = _inFlight == 0; // in flight are exactly the batches before it
            next.InFlight = true;
            _inFlight++;
            chain.Add(next);
        }

        return chain.Head;
    }

    /// <summary>
    /// Whether a ready open batch without a linger waits for more records although a request may go: while batches of
    /// the partition are in flight, one that holds fewer than half as many records as they hold on average waits until
    /// it does, or until one of them is answered or a flush asks for it (<see cref="PendingBatch.Due"/>). Without this,
    /// under steady load the first record produced after an acknowledgement took the freed request alone and the
    /// records behind it waited for the next one: half the batches carried one record (2026-12-04).
    /// </summary>
    private bool HoldLocked(PendingBatch open)
    {
        if (_inFlight == 0 || open.Due || _options.Linger != TimeSpan.Zero)
        {
            return false;
        }

        var recordsInFlight = 0;
        for (var i = 0; i < _inFlight; i++)
        {
            recordsInFlight += _queue[i].Acks.Count;
        }

        return open.Acks.Count * 2 * _inFlight < recordsInFlight;
    }

    /// <summary>
    /// Continues under a fresh producer id from sequence 0 (called with nothing in flight): queued batches that were
    /// sent and may have been appended are given up, the others numbered anew.
    /// </summary>
    private void RestartSessionLocked(ref BatchChain chain)
    {
        for (var i = 0; i < _queue.Count;)
        {
            var batch = _queue[i];
            if (batch.Sent && batch.MaybeAppended)
            {
                batch.GiveUp = Failure(batch, LogName, _partition,
                    "an earlier batch of this partition failed while these were unacknowledged, so whether they were appended cannot be told", batch.LastError);
                _queue.RemoveAt(i);
                chain.Add(batch);
                continue;
            }

            batch.Wire = null;
            batch.ProducerUnknown = false;
            i++;
        }

        _firstSession = false;
        _producerId = 0;
        _nextSequence = 0;
        _confirmed = false;
    }

    /// <summary>Fixes what goes on the wire at a batch's first send; false while a producer id is being taken.</summary>
    private bool AssignLocked(PendingBatch batch)
    {
        if (batch.Sent)
        {
            return true;
        }

        if (!_options.Idempotent)
        {
            batch.Plain = [.. batch.Records];
            return true;
        }

        if (_producerId == 0)
        {
            if (!_fetchingId)
            {
                _fetchingId = true;
                _ = TakeProducerIdAsync(_firstSession);
            }

            return false;
        }

        batch.Wire = new ProducerBatch(_producerId, _nextSequence, [.. batch.Records]);
        batch.Ordinal = _nextOrdinal++;
        _nextSequence += batch.Count;
        return true;
    }

    private async Task TakeProducerIdAsync(bool shared)
    {
        // Called under _gate: yield first, so the id (often at hand) is never applied inside the caller's pass.
        await Task.Yield();
        try
        {
            var id = await _producer.TakeProducerIdAsync(shared).ConfigureAwait(false);
            lock (_gate)
            {
                _fetchingId = false;
                _producerId = id;
                PumpLocked(_time.GetTimestamp());
            }
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                _fetchingId = false;
                if (_queue.Count > 0)
                {
                    _queue[0].LastError = e;
                }

                _recovering = true;
                _retryAt = _time.GetTimestamp() + BackoffTicksLocked();
                PumpLocked(_time.GetTimestamp());
            }
        }

        Start();
    }

    private long ElectionPollTicksLocked() => Ticks(ElectionPoll * (0.5 + 0.5 * _random.NextDouble()));

    private long BackoffTicksLocked()
    {
        var delay = BaseBackoff * Math.Pow(2, Math.Min(_failures, 5));
        if (delay > MaxBackoff)
        {
            delay = MaxBackoff;
        }

        _failures++;
        return Ticks(delay * (0.5 + 0.5 * _random.NextDouble())); // jitter: producers that failed together do not retry together
    }
}
