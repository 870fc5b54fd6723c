using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/*
 * Records for a log whose metadata this producer has not read yet wait in a line per log, in the order they were
 * produced, while one reader fetches the metadata (again after a backoff while the metadata group cannot answer); then
 * the line is enqueued in order, or failed. Records produced to that log meanwhile join the line instead of overtaking
 * it (Enqueue), so a caller's records keep their order whether or not the metadata was known when it produced them.
 */
public sealed partial class LogProducer
{
    // Invariant (under _gate): records for logs whose metadata is being read, per log name in ProduceAsync order. A record
    // leaves its line only once Enqueue returned (it is in _waiting or its batch, or failed): a flush always finds it.
    private readonly Dictionary<string, Queue<UnresolvedRecord>> _unresolved = new(StringComparer.Ordinal);

    /// <summary>Tests: runs in a metadata line between taking the record whose log was read and enqueuing it.</summary>
    internal Action<ProducerRecord>? BeforeEnqueueFromLine { get; set; }

    /// <summary>
    /// Whether the metadata group answers that no log is named <paramref name="log"/>. A read that fails answers no: the
    /// record then waits in line for the metadata, read again within its delivery timeout (see ResolveAsync).
    /// </summary>
    private async Task<bool> IsUnknownAsync(string log, CancellationToken ct)
    {
        try
        {
            return await Metadata.FetchAsync(log).WaitAsync(ct).ConfigureAwait(false) is null;
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// A record for a log whose metadata is being read: it waits in line with the others for that log, so the records
    /// a caller produced before the answer came keep their order (each awaiting the answer on its own would not).
    /// </summary>
    private Task<RecordAck> Unresolved(string log, int partition, ProducerRecord record, CancellationToken ct)
    {
        var waiting = new TaskCompletionSource<RecordAck>(TaskCreationOptions.RunContinuationsAsynchronously);
        var entry = new UnresolvedRecord(partition, record, waiting, ct, Deadline());
        lock (_gate)
        {
            if (_closed)
            {
                return Task.FromException<RecordAck>(Closed());
            }

            if (_unresolved.TryGetValue(log, out var line))
            {
                line.Enqueue(entry);
                return waiting.Task;
            }

            _unresolved[log] = new Queue<UnresolvedRecord>([entry]);
        }

        _ = ResolveAsync(log);
        return waiting.Task;
    }

    /// <summary>
    /// Reads the log's metadata, then enqueues (or fails) the records waiting for it in the order they came. A read that
    /// fails as a later one may not (<see cref="CachedLogs.IsTransient"/>: the metadata group without a leader, its
    /// leader's silo lost) is made again after a backoff while records wait; each fails with ProduceException once its
    /// <see cref="ProducerOptions.DeliveryTimeout"/> passed, as a batch not sent by then does.
    /// </summary>
    private async Task ResolveAsync(string log)
    {
        CachedLog? cached = null;
        Func<UnresolvedRecord, Exception>? failure = null;
        for (var failures = 0; ; failures++)
        {
            Exception last;
            try
            {
                cached = Metadata.TryGet(log, out var known) ? known : await Metadata.FetchAsync(log).ConfigureAwait(false);
                if (cached is null)
                {
                    var unknown = CachedLogs.Unknown(log);
                    failure = _ => unknown;
                }

                break;
            }
            catch (Exception e) when (CachedLogs.IsTransient(e))
            {
                last = e;
            }
            catch (Exception e)
            {
                failure = r => Unread(log, r, "the log's metadata could not be read (unexpected error)", e);
                break;
            }

            if (FailExpired(log, last) is not { } earliest)
            {
                return; // every record of the line failed: the line is gone
            }

            double jitter;
            lock (_gate)
            {
                jitter = 0.5 + 0.5 * _random.NextDouble(); // producers that failed together do not read again together
            }

            var delay = CachedLogs.ReadBackoff(failures) * jitter;
            var left = earliest - Time.GetTimestamp();
            if (left < delay.TotalSeconds * Time.TimestampFrequency)
            {
                delay = TimeSpan.FromSeconds(Math.Max(left, 0) / (double)Time.TimestampFrequency); // wake for the first deadline
            }

            await Task.Delay(delay, Time).ConfigureAwait(false);
        }

        while (true)
        {
            // Taken off the line only once Enqueue returned: a flush meanwhile still finds it in the line.
            UnresolvedRecord next;
            lock (_gate)
            {
                var line = _unresolved[log];
                if (!line.TryPeek(out next))
                {
                    _unresolved.Remove(log); // only now may records for the log take the direct way
                    return;
                }
            }

            if (failure is not null)
            {
                next.Ack.TrySetException(failure(next));
            }
            else
            {
                BeforeEnqueueFromLine?.Invoke(next.Record);
                var enqueued = Enqueue(cached!, next.Partition, next.Record, next.Ct, direct: false);
                _ = enqueued.ContinueWith(static (t, state) => ((TaskCompletionSource<RecordAck>)state!).TrySetFromTask(t), next.Ack,
                    CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            lock (_gate)
            {
                _unresolved[log].Dequeue(); // still its head: only this loop takes records off the line now
            }
        }
    }

    /// <summary>
    /// After a failed metadata read: fails the records of the line past their deadline (with <paramref name="last"/>
    /// inside) and cancels those whose token was cancelled, keeping the others' order. Returns the earliest deadline left,
    /// or null when none is left (the line is removed).
    /// </summary>
    private long? FailExpired(string log, Exception last)
    {
        List<UnresolvedRecord>? ended = null;
        long? earliest = null;
        var now = Time.GetTimestamp();
        lock (_gate)
        {
            var line = _unresolved[log];
            for (var n = line.Count; n > 0; n--)
            {
                var entry = line.Dequeue();
                if (entry.Ct.IsCancellationRequested || now >= entry.Deadline)
                {
                    (ended ??= []).Add(entry);
                    continue;
                }

                line.Enqueue(entry);
                earliest = Math.Min(earliest ?? long.MaxValue, entry.Deadline);
            }

            if (earliest is null)
            {
                _unresolved.Remove(log); // only now may records for the log take the direct way
            }
        }

        foreach (var entry in ended ?? [])
        {
            if (entry.Ct.IsCancellationRequested)
            {
                entry.Ack.TrySetCanceled(entry.Ct);
            }
            else
            {
                entry.Ack.TrySetException(Unread(log, entry, $"the log's metadata could not be read within the delivery timeout ({Options.DeliveryTimeout})", last));
            }
        }

        return earliest;
    }

    /// <summary>What a record fails with whose log's metadata could not be read (never sent: the partition only if it was asked for).</summary>
    private static ProduceException Unread(string log, UnresolvedRecord record, string reason, Exception last) =>
        new(log, record.Partition, 1, reason, last);
}
