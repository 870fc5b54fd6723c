using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Wal;

namespace Pyralog.Storage.Native;

/*
 * Reservation: a batch's log operations are checked against every log as it will be once all the batches queued before
 * it commit (ReservedFirst/ReservedNext), under the queue lock, before the batch joins the commit queue. So a bad
 * offset fails at once in the caller's WriteAsync, naming the log, with nothing written and no other writer's batch
 * harmed; the commit loop then applies only batches that fit.
 */
public sealed partial class PyramidStore
{
    // What Reserve changed, to restore when one of a batch's operations does not fit. Invariant: empty outside Reserve;
    // used under _queueLock only.
    private readonly List<(LogOperation Operation, StoredLog Log, ulong First, ulong Next)> _reserveUndo = [];

    /// <summary>Validates a batch's log operations against each log as it will be once every queued batch
    /// commits, and reserves them; on any error restores what it reserved and throws. Caller holds _queueLock.</summary>
    private void Reserve(WriteBatch batch)
    {
        var operations = batch.LogOperations;
        if (operations.IsEmpty)
        {
            return;
        }

        _reserveUndo.Clear();
        try
        {
            foreach (var operation in operations)
            {
                if (!_logs.TryGetValue(operation.Log, out var log))
                {
                    var created = new StoredLog(operation.Log, LogSpaceState.Empty);
                    log = _logs.GetOrAdd(operation.Log, created); // SetRetention may add the same log concurrently
                    created.CreatedByReservation = ReferenceEquals(log, created);
                }

                _reserveUndo.Add((operation, log, log.ReservedFirst, log.ReservedNext));
                ReserveOne(log, operation);
            }
        }
        catch
        {
            for (var i = _reserveUndo.Count - 1; i >= 0; i--)
            {
                var (_, log, first, next) = _reserveUndo[i];
                log.ReservedFirst = first;
                log.ReservedNext = next;
                if (log.CreatedByReservation)
                {
                    _logs.TryRemove(log.Id, out _); // nothing queued refers to it: a refused batch leaves no trace
                }
            }

            throw;
        }
        finally
        {
            foreach (var (_, log, _, _) in _reserveUndo)
            {
                log.CreatedByReservation = false;
            }
        }

        _reserveUndo.Clear();
    }

    /// <summary>
    /// True when the truncation changes nothing: no frame, no fsync. Only with no write queued or committing anywhere
    /// in the store, checked first: one queued before this call may undo it, or hold the truncation it relies on and
    /// then fail (whether it touches this log cannot be told from the bounds: an append and a truncation back to the
    /// same end leave them as they were). Then it must hold in the published bounds, which a PerBatch store has made
    /// durable unless it acknowledged writes unsynced. A write queued after the first check is concurrent with the call.
    /// </summary>
    private bool IsNoOpTruncation(WalOp kind, ulong log, ulong offset)
    {
        lock (_queueLock)
        {
            ThrowIfUnavailable();
            if (_uncommittedWrites > 0)
            {
                return false;
            }
        }

        if (_options.Durability == DurabilityMode.PerBatch && Volatile.Read(ref _unsyncedAcknowledged))
        {
            return false;
        }

        if (!_logs.TryGetValue(log, out var stored))
        {
            return false; // let the write decide (and name the problem)
        }

        LogSpaceState published;
        lock (_viewLock)
        {
            published = stored.Published;
        }

        return kind == WalOp.TruncateSuffix ? offset == published.Next : offset <= published.First;
    }

    private static void ReserveOne(StoredLog log, in LogOperation operation)
    {
        var offset = operation.Offset;
        switch (operation.Kind)
        {
            case WalOp.LogAppend:
                if (log.ReservedFirst == 0 && log.ReservedNext == 0)
                {
                    // A new log starts wherever its first append says. A log emptied by a truncation continues at the
                    // truncation point (below): a Raft follower that truncated at i appends at i, and anything else is a
                    // gap. Emptied at 0, it cannot be told from a new log here, and is taken as one (Raft logs start at 1).
                    log.ReservedFirst = offset;
                }
                else if (offset != log.ReservedNext)
                {
                    throw new ArgumentException($"append to log {log.Id} at offset {offset} but the log's next offset is {log.ReservedNext}; offsets are dense");
                }

                var next = offset + (ulong)operation.Count;
                if (next < offset || next == ulong.MaxValue)
                {
                    throw new ArgumentException($"offsets of log {log.Id} would overflow");
                }

                log.ReservedNext = next;
                break;

            case WalOp.TruncateSuffix:
                if (offset < log.ReservedFirst || offset > log.ReservedNext)
                {
                    throw new ArgumentOutOfRangeException(nameof(operation), offset,
                        $"truncate-suffix offset of log {log.Id} must lie in the log [{log.ReservedFirst}, {log.ReservedNext}]");
                }

                log.ReservedNext = offset;
                break;

            case WalOp.TruncatePrefix:
                if (offset > log.ReservedFirst)
                {
                    log.ReservedFirst = offset;
                    log.ReservedNext = Math.Max(log.ReservedNext, offset);
                }

                break;
        }
    }
}
