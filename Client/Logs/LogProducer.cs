using Pyralog.Client.Obelisk;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/// <summary>
/// Produces records to logs: batches per partition (sent when full, after <see cref="ProducerOptions.Linger"/>, or on
/// <see cref="FlushAsync"/>), sends them to each partition's leader and retries within
/// <see cref="ProducerOptions.DeliveryTimeout"/>. Idempotent by default: a retried batch is appended once, and a
/// partition's records are appended in the order they were produced (PartitionProducer states the rules). Thread-safe.
/// </summary>
public sealed partial class LogProducer : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Random _random;
    private readonly int _seed;
    private readonly Lazy<ScarabIdGenerator> _ids;

    // Invariants (under _gate): _waiting holds records not admitted yet, in ProduceAsync order; while it is not empty
    // or a drain runs, new records queue behind it (so admission keeps their order). _buffered counts the encoded
    // bytes of admitted records not yet acknowledged or failed.
    private readonly Dictionary<ulong, ProducerLog> _logs = [];
    private readonly Queue<Admission> _waiting = new();

    private long _buffered;
    private bool _draining;

    // Invariant (under _gate): the record the drain has taken off _waiting and not yet appended to its batch (null
    // otherwise), so a flush in between waits for it too.
    private Admission? _handingOver;
    private bool _closed;

    // Records admitted under _gate and being appended to their batches after it (Interlocked): until appended, no
    // flush can see them, so DisposeAsync waits for them. Once _closed, the append that brings the count to 0 completes
    // _appended (the close's wait; created under _gate).
    private int _appending;
    private TaskCompletionSource? _appended;

    // Flushes waiting, plus one for good once the producer closes (Interlocked): meanwhile every batch goes without a
    // linger (see Flushing).
    private int _flushes;

    // What SendAsync callers wait on while records wait for buffer room; completed and cleared (under _gate) once none
    // waits and room is left, or the producer closes.
    private TaskCompletionSource? _room;
    private Task<long>? _producerId;

    // What the shared cache calls when it forgot logs (holds this producer weakly).
    private readonly Action _onForgotten;

    /// <summary>A producer of its own (its own log metadata cache); <see cref="PyralogClient.CreateProducer"/> shares the client's.</summary>
    public LogProducer(IGrainFactory grains, ProducerOptions? options = null, TimeProvider? time = null)
        : this(new CachedLogs(grains ?? throw new ArgumentNullException(nameof(grains)), time ?? TimeProvider.System), options)
    {
    }

    internal LogProducer(CachedLogs metadata, ProducerOptions? options)
    {
        options ??= new ProducerOptions();
        options.Validate();
        Options = options;
        Metadata = metadata;
        Time = metadata.Time;

        // Seeded from the injected clock: a FakeTimeProvider makes the keyless partition choice and the jitter repeatable.
        _seed = unchecked((int)Time.GetTimestamp());
        _random = new Random(_seed);
        _ids = new Lazy<ScarabIdGenerator>(() => new ScarabIdGenerator(metadata.Grains, new ScarabIdGeneratorOptions { BlockSize = 16, PrefetchBlocks = 1 }, Time));
        _onForgotten = OnForgotten(new WeakReference<LogProducer>(this), metadata);
        metadata.Forgotten += _onForgotten;
    }

    /// <summary>
    /// What the shared cache calls when it forgot logs, holding the producer weakly: a producer its application dropped
    /// without disposing must not be kept alive (and scanned at every forgetting) by the cache it shares with the client.
    /// Static, so the closure captures nothing of the constructor's (whose other lambdas capture the producer).
    /// </summary>
    private static Action OnForgotten(WeakReference<LogProducer> producer, CachedLogs metadata)
    {
        Action? handler = null;
        handler = () =>
        {
            if (producer.TryGetTarget(out var alive))
            {
                alive.DropForgottenLogs();
            }
            else
            {
                metadata.Forgotten -= handler;
            }
        };
        return handler;
    }

    internal ProducerOptions Options { get; }

    internal TimeProvider Time { get; }

    internal CachedLogs Metadata { get; }

    /// <summary>
    /// Produces a record to <paramref name="log"/>: to the partition of its key (<see cref="Partitioner.ForKey"/>), or for a
    /// record without a key to one partition until its batch is sent, then the next. Completes once the record is
    /// committed; waits first while <see cref="ProducerOptions.MaxBufferedBytes"/> are buffered.
    /// </summary>
    /// <exception cref="InvalidOperationException">No log is named <paramref name="log"/>.</exception>
    /// <exception cref="ArgumentException">The record has no value or is over the log's record limit (nothing is sent).</exception>
    /// <exception cref="ProduceException">The record was not acknowledged (see its inner exception).</exception>
    /// <exception cref="ObjectDisposedException">The producer is closed.</exception>
    public Task<RecordAck> ProduceAsync(string log, ProducerRecord record, CancellationToken ct = default) =>
        ProduceAsync(log, -1, record, ct, nameof(log));

    /// <summary>
    /// Produces a record as <see cref="ProduceAsync(string, ProducerRecord, CancellationToken)"/> does, but returns once the
    /// record is buffered, with the task of its acknowledgement. A caller that sends in a loop, awaiting this rather than
    /// each acknowledgement, keeps about <see cref="ProducerOptions.MaxBufferedBytes"/> in memory (Kafka's blocking send);
    /// records given to ProduceAsync wait for room inside their tasks, as many as the caller makes.
    /// </summary>
    /// <exception cref="InvalidOperationException">No log is named <paramref name="log"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled while the record waited for room.</exception>
    /// <remarks>Bad records and a closed producer fail the returned acknowledgement, as with ProduceAsync.</remarks>
    public ValueTask<Task<RecordAck>> SendAsync(string log, ProducerRecord record, CancellationToken ct = default) =>
        BufferAsync(log, -1, record, ct);

    /// <summary>Sends a record to partition <paramref name="partition"/> of <paramref name="log"/> (see the other overload).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The log has no such partition (in the acknowledgement).</exception>
    public ValueTask<Task<RecordAck>> SendAsync(string log, int partition, ProducerRecord record, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        return BufferAsync(log, partition, record, ct);
    }

    /// <summary>Produces a record to partition <paramref name="partition"/> of <paramref name="log"/> (see the other overload).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The log has no such partition.</exception>
    public Task<RecordAck> ProduceAsync(string log, int partition, ProducerRecord record, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        return ProduceAsync(log, partition, record, ct, nameof(log));
    }

    /// <summary>
    /// Sends every batch now and completes once every record produced before the call is acknowledged or has failed
    /// (failures are reported through the records' own tasks, not here).
    /// </summary>
    public async Task FlushAsync(CancellationToken ct = default)
    {
        // Counted before the records are collected: a record admitted later (from the buffer's queue or a metadata line)
        // opens its batch ready (Flushing), and one admitted before is in a batch CollectUnfinished marks ready.
        Interlocked.Increment(ref _flushes);
        try
        {
            await Task.WhenAll(Unfinished()).WaitAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _flushes);
        }
    }

    /// <summary>Marks every open batch ready and lists what a flush waits for: every record produced and not yet acknowledged or failed.</summary>
    private List<Task> Unfinished()
    {
        var unfinished = new List<Task>();
        var partitions = new List<PartitionProducer>();
        lock (_gate)
        {
            foreach (var line in _unresolved.Values)
            {
                foreach (var waiting in line)
                {
                    unfinished.Add(waiting.Ack.Task.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
                }
            }

            if (_handingOver is { } handingOver)
            {
                unfinished.Add(handingOver.Ack.Task.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
            }

            foreach (var waiting in _waiting)
            {
                // Admitted later into some batch; settled, not succeeded: a failed record is reported by its own task.
                unfinished.Add(waiting.Ack.Task.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
            }

            foreach (var log in _logs.Values)
            {
                partitions.AddRange(log.Started);
            }
        }

        foreach (var partition in partitions)
        {
            partition.CollectUnfinished(unfinished);
        }

        return unfinished;
    }

    /// <summary>
    /// Closes the producer: refuses new records, then flushes. Every record it accepted, also one produced as it closed,
    /// is acknowledged or failed before this completes; from the close on, batches go without a linger.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        TaskCompletionSource? room;
        Task? appended = null;
        lock (_gate)
        {
            if (!_closed)
            {
                _closed = true;
                Interlocked.Increment(ref _flushes); // from now on every batch goes at once: the linger timers stop below
            }

            (room, _room) = (_room, null);

            // Records that passed the closed check before it was set may still be on their way to their batches, where
            // the flush below would miss them. A full fence between setting _closed and reading the count, as AppendEnded
            // has between its decrement and reading _closed: one of the two sees the other's write, so the wait ends.
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _appending) != 0)
            {
                appended = (_appended ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }

        room?.SetResult(); // waiting senders go on, to a refusal

        Metadata.Forgotten -= _onForgotten;
        if (appended is not null)
        {
            await appended.ConfigureAwait(false);
        }

        await FlushAsync().ConfigureAwait(false);
        lock (_gate)
        {
            foreach (var log in _logs.Values)
            {
                foreach (var partition in log.Started)
                {
                    partition.DisposeTimers();
                }
            }
        }
    }

    /// <summary>The producer id: the first session of every partition shares one Scarab ID taken once; a partition that had to start over takes a fresh one.</summary>
    internal async Task<long> TakeProducerIdAsync(bool shared)
    {
        if (!shared)
        {
            return NonZero((await _ids.Value.NextAsync().ConfigureAwait(false)).Value);
        }

        Task<long> id;
        lock (_gate)
        {
            if (_producerId is null || _producerId.IsFaulted)
            {
                _producerId = TakeSharedIdAsync();
            }

            id = _producerId;
        }

        return await id.ConfigureAwait(false);
    }

    /// <summary>
    /// Drops the state of every log the shared cache forgot (deleted, or not produced to for
    /// <see cref="CachedLogs.ForgetAfter"/>) whose partitions have nothing left to send or settle; one that still has
    /// is dropped at a later call. A record produced to the log afterwards starts its state afresh.
    /// </summary>
    private void DropForgottenLogs()
    {
        List<PartitionProducer>? dropped = null;
        lock (_gate)
        {
            if (_waiting.Count > 0 || _handingOver is not null)
            {
                return; // records waiting for room hold partitions of some log: the next call looks again
            }

            foreach (var (id, log) in _logs)
            {
                if (!Metadata.Holds(log.Name, id) && log.Idle)
                {
                    _logs.Remove(id);
                    (dropped ??= []).AddRange(log.Started);
                }
            }

            if (dropped is not null)
            {
                // A log forgotten for disuse is still in the cluster, and its partitions remember this producer's id and
                // last sequences: a partition producer made afresh would start that id again at sequence 0, which a
                // partition holding that batch answers as a duplicate (the record acknowledged and never appended).
                // Partitions started from now on take a new id.
                _producerId = null;
            }
        }

        foreach (var partition in dropped ?? [])
        {
            partition.DisposeTimers();
        }
    }

    /// <summary>Tests: how many logs the producer keeps state for.</summary>
    internal int LogsKept
    {
        get
        {
            lock (_gate)
            {
                return _logs.Count;
            }
        }
    }

    /// <summary>Tests: runs on the drain between taking a waiting record off the queue and appending it to its batch.</summary>
    internal Action<ProducerRecord>? BeforeHandOver { get; set; }

    /// <summary>Tests: runs between admitting a record under the lock and appending it to its batch after the lock.</summary>
    internal Action<ProducerRecord>? BeforeAppend { get; set; }

    /// <summary>
    /// Whether a flush waits or the producer is closed: a batch opened now goes without a linger, since it may hold
    /// records the flush waits for (FlushAsync sends every batch now; after a close no linger timer runs).
    /// </summary>
    internal bool Flushing => Volatile.Read(ref _flushes) != 0;

    /// <summary>Records acknowledged or failed: frees their bytes and admits waiting records, in order.</summary>
    internal void Release(int bytes)
    {
        lock (_gate)
        {
            _buffered -= bytes;
            if (_draining)
            {
                return; // the drain running admits for this release too
            }

            _draining = true;
        }

        // One drainer at a time appends the admitted records, outside the lock and in queue order.
        while (true)
        {
            Admission? admitted = null;
            TaskCompletionSource? room = null;
            lock (_gate)
            {
                _handingOver = null;
                while (_waiting.TryPeek(out var first) && first.Ack.Task.IsCompleted)
                {
                    _waiting.Dequeue(); // cancelled while waiting
                }

                if (_waiting.Count == 0 || _buffered >= Options.MaxBufferedBytes)
                {
                    _draining = false;
                    if (_waiting.Count == 0 && _buffered < Options.MaxBufferedBytes)
                    {
                        (room, _room) = (_room, null); // senders waiting for room go on
                    }
                }
                else
                {
                    admitted = _waiting.Dequeue();
                    _buffered += admitted.Bytes;
                    _handingOver = admitted;
                }
            }

            if (admitted is null)
            {
                room?.SetResult();
                return;
            }

            BeforeHandOver?.Invoke(admitted.Record);

            // Disposing waits for a cancellation callback already running; one that ran after the check above cancelled
            // the record's task, and the record must then not reach a batch (it could commit while reported cancelled).
            admitted.Registration.Dispose();
            if (admitted.Ack.Task.IsCompleted)
            {
                lock (_gate)
                {
                    _buffered -= admitted.Bytes;
                }

                continue;
            }

            admitted.Target.Append(admitted.Record, admitted.Ack, admitted.Bytes);
        }
    }

    private async ValueTask<Task<RecordAck>> BufferAsync(string log, int partition, ProducerRecord record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(record);
        if (!Metadata.TryGet(log, out _) && await IsUnknownAsync(log, ct).ConfigureAwait(false))
        {
            throw CachedLogs.Unknown(log); // not in a line of records waiting for it, unbounded
        }

        while (WaitForRoom() is { } room)
        {
            await room.WaitAsync(ct).ConfigureAwait(false);
        }

        // Not cancellable once handed over: a concurrent sender may have taken the room, leaving this record to wait in
        // line, and the caller was told it is buffered (a shutdown token cancelled before the flush dropped it).
        return ProduceAsync(log, partition, record, CancellationToken.None, nameof(log));
    }

    /// <summary>What to wait for before a record is buffered at once, or null when it would be (or the producer closed).</summary>
    private Task? WaitForRoom()
    {
        lock (_gate)
        {
            return _closed || (_waiting.Count == 0 && _buffered < Options.MaxBufferedBytes)
                ? null
                : (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    /// <summary>A record counted in <see cref="_appending"/> is in its batch: the last one a closing producer waits for ends its wait.</summary>
    private void AppendEnded()
    {
        // Decrement, then read _closed (a full fence between): see DisposeAsync.
        if (Interlocked.Decrement(ref _appending) == 0 && Volatile.Read(ref _closed))
        {
            TaskCompletionSource? appended;
            lock (_gate)
            {
                (appended, _appended) = (_appended, null);
            }

            appended?.TrySetResult();
        }
    }

    private static ObjectDisposedException Closed() => new("the producer is closed", (Exception?)null);

    private static long NonZero(ulong id) => id == 0 ? throw new InvalidOperationException("the obelisk handed out Scarab ID 0") : unchecked((long)id);

    private async Task<long> TakeSharedIdAsync() => NonZero((await _ids.Value.NextAsync().ConfigureAwait(false)).Value);

    private Task<RecordAck> ProduceAsync(string log, int partition, ProducerRecord record, CancellationToken ct, string logParameter)
    {
        ArgumentNullException.ThrowIfNull(log, logParameter);
        ArgumentNullException.ThrowIfNull(record);
        return Metadata.TryGet(log, out var cached) ? Enqueue(cached, partition, record, ct, direct: true) : Unresolved(log, partition, record, ct);
    }

    /// <summary>When a record produced now fails if it could not be sent (a timestamp; saturating: <see cref="TimeSpan.MaxValue"/> never).</summary>
    private long Deadline()
    {
        var now = Time.GetTimestamp();
        var ticks = Options.DeliveryTimeout.TotalSeconds * Time.TimestampFrequency;
        return ticks >= long.MaxValue - now ? long.MaxValue : now + (long)ticks;
    }

    /// <summary>Admits a record to its partition's batch (or the wait for buffer space); <paramref name="direct"/>: not from the line of <see cref="Unresolved"/>, so it must not overtake that line.</summary>
    private Task<RecordAck> Enqueue(CachedLog cached, int partition, ProducerRecord record, CancellationToken ct, bool direct)
    {
        var info = cached.Info;
        if (partition >= info.Partitions)
        {
            return Task.FromException<RecordAck>(new ArgumentOutOfRangeException(nameof(partition), partition,
                $"log '{info.Name}' has {info.Partitions} partitions (0..{info.Partitions - 1})"));
        }

        if (record.FormatProblem() is { } problem)
        {
            return Task.FromException<RecordAck>(new ArgumentException($"the record {problem}", nameof(record)));
        }

        // A record must also fit a batch of its own (a log may allow records as large as a batch).
        var limit = Math.Min(info.Settings.MaxRecordBytes, LogSettings.MaxBatchBytes - ProducerOptions.BatchHeaderBytes);
        var bytes = record.EncodedBytes;
        if (bytes > limit)
        {
            // The server would refuse it with its batch; refused here it fails alone, before it is batched.
            return Task.FromException<RecordAck>(new ArgumentException(
                $"the record is {bytes} bytes, over the limit of log '{info.Name}' of {limit} bytes", nameof(record)));
        }

        if (ct.IsCancellationRequested)
        {
            return Task.FromCanceled<RecordAck>(ct);
        }

        var ack = new TaskCompletionSource<RecordAck>(TaskCreationOptions.RunContinuationsAsynchronously);
        PartitionProducer target;
        ProducerLog? producerLog;
        Admission? queued;
        lock (_gate)
        {
            if (_closed && direct)
            {
                // Only direct records are refused: one from the metadata line was produced before the producer closed.
                return Task.FromException<RecordAck>(Closed());
            }

            if (direct && _unresolved.TryGetValue(info.Name, out var line))
            {
                line.Enqueue(new UnresolvedRecord(partition, record, ack, ct, Deadline())); // the records before it are still waiting for the metadata
                return ack.Task;
            }

            if (!_logs.TryGetValue(info.Id, out producerLog))
            {
                producerLog = new ProducerLog(cached, Metadata);
                _logs[info.Id] = producerLog;
            }

            var chosen = partition >= 0 ? partition
                : record.Key is { } key ? Partitioner.ForKey(key, info.Partitions)
                : producerLog.Sticky(_random);
            target = producerLog.Partition(this, chosen, _seed);
            if (_waiting.Count == 0 && !_draining && _buffered < Options.MaxBufferedBytes)
            {
                _buffered += bytes;
                queued = null;
                producerLog.AppendStarting(); // appended after the lock: the log's state is not dropped meanwhile
                Interlocked.Increment(ref _appending); // nor does a close miss it
            }
            else
            {
                queued = new Admission(target, record, ack, bytes);
                if (ct.CanBeCanceled)
                {
                    // Before a drain can see it: registered later, a drain could admit the record first and never dispose
                    // the registration, and a cancellation then failed a record already in a batch (later committed).
                    queued.Registration = ct.Register(static (state, token) => ((Admission)state!).Ack.TrySetCanceled(token), queued);
                }

                _waiting.Enqueue(queued);
            }
        }

        if (queued is null)
        {
            try
            {
                BeforeAppend?.Invoke(record);
                target.Append(record, ack, bytes);
            }
            finally
            {
                producerLog.AppendEnded();
                AppendEnded();
            }

            return ack.Task;
        }

        // Space may have been freed (or the records ahead cancelled) since the last release: admit what fits now.
        Release(0);
        return ack.Task;
    }
}
