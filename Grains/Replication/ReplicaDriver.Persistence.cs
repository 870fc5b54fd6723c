using Microsoft.Extensions.Logging;
using Pyralog.Consensus;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Replication;

/*
 * Persistence: a Ready's batch (entries, hard state, snapshot) is one store write, queued from the pass that produced it
 * and completed in queue order (the store's commit loop is FIFO); each completion tells the node (Persisted) and only
 * then releases the acknowledgements and votes that promise it (those the store's commit thread did not already send,
 * see AfterPersistSends). The state machine's applied state goes in writes of its own, never synced on their own: a
 * crash loses at most what the log replays.
 *
 * Compaction: when applying asks for it (IReplicaStateMachine.TakeCompaction: a partition's retention moved its first
 * offset, or the metadata group applied enough entries since its last snapshot), the pass that applied it, with no
 * Ready outstanding, has the node take the snapshot (CreateSnapshot: the entries up to it leave the node's view, a
 * follower that needs them is sent the snapshot) and queues one store write: the snapshot record, the compacted
 * metadata and the store log's prefix truncation (ReplicaStorage.Compact). The entries it drops are applied, hence
 * durable; writes complete in queue order, so a persist built before the compaction never overwrites its metadata,
 * and a crash before the write leaves the old snapshot with the whole log (a partition reopened so asks for the
 * compaction again: PartitionState.OpenAsync). The compaction waits until the applied state that asked for it (the
 * partition's new first offset, its offset index without the dropped entries) is queued ahead of it: a crash that
 * keeps the compaction then keeps that state too. Queued behind it instead (while an earlier
 * applied-state write was in flight), a crash could keep the compaction and an older applied state whose offset index
 * still names the dropped entries, and a read after the restart labelled the first entry left with their offsets.
 */
internal sealed partial class ReplicaDriver
{
    // Invariant: persists in the order they were queued to the store; the head is the oldest not yet reported durable.
    private readonly Queue<(PersistBatch Batch, WriteBatch Write, Task Task, AfterPersistSends? Sends)> _persisting = new();

    // The sends of the latest persist that had messages waiting for it (see AfterPersistSends), or null.
    private AfterPersistSends? _lastAfterPersistSends;

    // Invariant: true while one CompletePersistsAsync loop runs; only that loop dequeues _persisting (a second loop
    // started from the Pump inside the first would dequeue a batch that is not yet durable).
    private bool _completingPersists;

    private Task? _appliedWrite;

    // The store's own tasks of the latest applied-state and compaction writes (they complete on the store's thread, not
    // in a grain turn): what QueuedPersists waits for once disposed (a failure is the driver's, Fail).
    private Task _appliedStoreWrite = Task.CompletedTask;
    private Task _compactionStoreWrite = Task.CompletedTask;

    /// <summary>True while a persist the node handed out is not yet reported durable to it.</summary>
    public bool PersistInFlight => _persisting.Count > 0;

    private void StartPersist(PersistBatch batch)
    {
        var write = _storage.Build(batch, _skipSync);
        AfterPersistSends? sends = null;
        if (batch.MessagesAfterPersist.Count > 0)
        {
            write.CommittedListener = sends = new AfterPersistSends(_transport, _replica, batch.MessagesAfterPersist, _lastAfterPersistSends);
            _lastAfterPersistSends = sends;
        }

        Task task;
        try
        {
            task = _store.WriteAsync(write).AsTask();
        }
        catch
        {
            write.Dispose();
            throw;
        }

        _persisting.Enqueue((batch, write, task, sends));
        if (!_completingPersists)
        {
            _completingPersists = true;
            _ = CompletePersistsAsync();
        }
    }

    private async Task CompletePersistsAsync()
    {
        try
        {
            await CompletePersistsInOrderAsync();
        }
        finally
        {
            _completingPersists = false;
        }
    }

    private async Task CompletePersistsInOrderAsync()
    {
        while (!_disposed && _persisting.TryPeek(out var head))
        {
            try
            {
                // Always a turn of its own: this loop starts inside a pass (StartPersist), where a write the store has
                // already finished would otherwise continue at once, calling the node while its Ready is outstanding.
                await head.Task.ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext | ConfigureAwaitOptions.ForceYielding);
            }
            catch (Exception e)
            {
                Fail(e);
                return;
            }

            if (_disposed || _failure is not null)
            {
                return;
            }

            _persisting.Dequeue();
            head.Write.Dispose();
            try
            {
                if (head.Batch.Snapshot is { } snapshot)
                {
                    _machine.Restore(snapshot);
                    ForgetProposalsUpTo(snapshot.Index);
                }

                _node.Persisted(head.Batch.Mark);
                if (_traced.Count > 0)
                {
                    AdvanceTraces();
                }
            }
            catch (Exception e)
            {
                Fail(e);
                return;
            }

            foreach (var message in head.Batch.MessagesAfterPersist)
            {
                if (head.Sends?.Left(message) != true)
                {
                    Outbox(message);
                }
            }

            Pump();
            head.Sends?.Settle(); // after the pass that sent what did not leave from the commit thread
            QuiesceAsAskedIfDone(atTick: false);
        }
    }

    /// <summary>Takes the snapshot and compacts the log when applying asked for it (see the class comment).</summary>
    private void Compact()
    {
        if (_failure is not null || _disposed || _machine.HasUnwritten)
        {
            return; // the state that asked for it is not queued yet: WriteAppliedAsync compacts once it is
        }

        if (_node.AppliedIndex < _machine.AppliedIndex)
        {
            // Restarted with a commit index older than the applied state (see ReplicaStorage.RestartApplied): the node
            // hands those entries out again first. Taken now, a compaction the machine asked for on opening would be
            // beyond the node's applied index, refused and lost.
            return;
        }

        WriteBatch write;
        try
        {
            if (_machine.TakeCompaction(_storage.Metadata.Snapshot) is not { } compaction ||
                compaction.Index <= _node.SnapshotIndex || compaction.Index > _node.AppliedIndex)
            {
                return;
            }

            var snapshot = _node.CreateSnapshot(compaction.Index, compaction.Data);
            write = _storage.Compact(snapshot, _skipSync);
            _logger.LogDebug("Replica {Key} compacted its log up to Raft index {Index}", _key, snapshot.Index);
        }
        catch (Exception e)
        {
            Fail(e);
            return;
        }

        _ = WriteTrackedAsync(write, compaction: true);
    }

    /// <summary>
    /// Writes an applied-state or compaction batch, tracked for QueuedPersists, and returns it to its pool once written;
    /// false when the write failed (the driver has failed with it).
    /// </summary>
    private async Task<bool> WriteTrackedAsync(WriteBatch write, bool compaction)
    {
        try
        {
            var task = _store.WriteAsync(write).AsTask();
            if (compaction)
            {
                _compactionStoreWrite = task;
            }
            else
            {
                _appliedStoreWrite = task;
            }

            await task;
            return true;
        }
        catch (Exception e)
        {
            Fail(e);
            return false;
        }
        finally
        {
            write.Dispose();
        }
    }

    private void WriteApplied()
    {
        if (_appliedWrite is { IsCompleted: false } || !_machine.HasUnwritten)
        {
            return;
        }

        var write = new WriteBatch { SkipSync = true };
        _machine.TakeUnwritten(write);

        _appliedWrite = WriteAppliedAsync(write);
    }

    private async Task WriteAppliedAsync(WriteBatch write)
    {
        if (!await WriteTrackedAsync(write, compaction: false))
        {
            return;
        }

        _machine.Written();
        if (!_disposed && _failure is null)
        {
            _appliedWrite = null;
            WriteApplied();
            Compact();
        }
    }
}
