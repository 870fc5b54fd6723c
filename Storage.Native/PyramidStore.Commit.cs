using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Memtables;
using Pyralog.Storage.Native.Wal;

namespace Pyralog.Storage.Native;

/*
 * The commit loop: the only writer of the WAL, the memtable and the log states.
 *
 * Callers validate their batch against every log's reserved bounds under the queue lock (so a bad
 * offset fails at once, naming the log, and nothing is written), enqueue it and await. One dedicated
 * thread takes everything queued as one group: one gathered write and (per batch mode) one fdatasync
 * for all of it — whatever logs the batches touch — then applies the frames to the memtable and
 * publishes the new bounds and sequence together, so a reader never sees a write before it is durable.
 * While the thread syncs, new batches queue up and form the next group: the busier the store, the
 * bigger the groups. In Interval mode the same thread syncs when the interval has passed.
 *
 * A failed write or sync faults the store (PyramidStore.Faults.cs). Between groups the thread also swaps a full
 * memtable out (PyramidStore.MemtableSwitch.cs) and runs a flush's or compaction's segment sync
 * (PyramidStore.SegmentSyncs.cs).
 * Cancellation is honoured until a batch is queued; a queued batch commits (the loop reads the batch's
 * buffer, so the caller could not safely reuse it before that anyway).
 */
public sealed partial class PyramidStore
{
    private const int OverlapSyncBytes = 64 << 10;

    // A group stops taking batches past this many bytes (it always takes one): writers queued behind a burst of
    // large batches wait for one bounded write and sync, not for everything that arrived meanwhile.
    private const long MaxGroupBytes = 32L << 20;

    /// <summary>
    /// Groups of up to this many batches tell their batches' <see cref="ICommittedWriteListener"/>s on the commit thread.
    /// A small group is a lightly loaded store, where a writer's wake-up is a large part of its latency; a big one is a
    /// busy store, where the listeners would only hold up the next group's sync while the writers' threads are awake anyway.
    /// </summary>
    internal const int MaxGroupForCommittedListeners = 4;

    // Queued batches, or (Batch null) an action that must run on the commit loop between two groups.
    // Invariant: _queue, _stopping, _loopWaiting, _fault and _disposed are read and written under _queueLock.
    private readonly object _queueLock = new();
    private readonly Queue<(WriteBatch? Batch, TaskCompletionSource Done, Action? Action)> _queue = new();
    private readonly TaskCompletionSource _commitLoopExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _stopping;

    // Batches queued or in a commit group that has not completed yet. Invariant: read and written under _queueLock.
    private int _uncommittedWrites;

    // The commit thread sleeps on _commitWake, not on _queueLock: a writer takes the wake-up under _queueLock
    // (TakeCommitWakeLocked) and signals after releasing it (SignalCommitLoop). Pulsed under _queueLock, the woken thread
    // blocked again at once on the lock its waker still held (validation, reservation and the enqueue) and needed a second
    // wake-up; _commitWake is held only for the signal itself. Invariant: _loopWaiting (under _queueLock) is true only from
    // the moment the commit thread finds nothing to do until a writer takes the wake-up or the thread looks at the queue
    // again; _commitWakeRequested (under _commitWake) is set by every signal and cleared whenever the thread passes its
    // wait (woken, timed out, or finding it set), so a signal sent before the thread sleeps is not lost (a late one costs
    // one empty pass).
    private bool _loopWaiting;
    private readonly object _commitWake = new();
    private bool _commitWakeRequested;

    private bool _disposed;

    // Commit-loop state. Invariant: touched only by the commit thread (or by recovery, before it starts).
    private readonly List<WriteBatch> _groupBatches = [];
    private readonly List<TaskCompletionSource> _groupWaiters = [];
    private readonly List<ReadOnlyMemory<byte>> _groupFrames = [];
    private readonly List<StoredLog> _touched = [];
    private WriteAheadLog _wal = null!;
    private ulong _sequence;
    private long _groupNumber;
    private Memtable _active;
    private long _lastSyncTimestamp;
    private bool _unsynced;
    private long _groupNow; // the committing group's timestamp (Unix ms), for ApplyGroup
    private readonly Func<long> _applyGroup; // ApplyGroup, made once: no delegate per group

    // Set once a PerBatch store acknowledged a group without syncing it (WriteBatch.SkipSync): from then on the
    // store treats its WAL like an Interval store's where durability of a published state matters (compaction
    // deleting below a truncation, close). Invariant: never reset while the store is open.
    private bool _unsyncedAcknowledged;
    private long _walSyncs;
    private long _commitGroups;
    private long _commitLoopPasses;

    /// <summary>Commits <paramref name="batch"/> atomically (group commit with concurrent writers, across logs).
    /// The batch must not be changed until the returned task completes.</summary>
    /// <exception cref="ArgumentException">An operation does not fit its log's bounds (named in the message); nothing was written.</exception>
    public ValueTask WriteAsync(WriteBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(batch.IsDisposed, batch); // before it joins a group: it must harm no other writer
        cancellationToken.ThrowIfCancellationRequested();
        if (batch.Count == 0)
        {
            return ValueTask.CompletedTask;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool wake;
        lock (_queueLock)
        {
            ThrowIfUnavailable();
            if (batch.Queued)
            {
                throw new InvalidOperationException("this write batch is already queued; wait for its write to complete before writing it again");
            }

            Reserve(batch);
            batch.Queued = true;
            _queue.Enqueue((batch, done, null));
            _uncommittedWrites++;
            wake = TakeCommitWakeLocked();
        }

        SignalCommitLoop(wake);
        return new ValueTask(done.Task);
    }

    /// <summary>Swaps the memtable out and writes every pending memtable to segments.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        await RunOnCommitLoopAsync(SwapMemtable, cancellationToken).ConfigureAwait(false);
        await Task.Run(FlushImmutables, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>True when the caller must wake the commit thread (with <see cref="SignalCommitLoop"/>, after releasing
    /// _queueLock); caller holds _queueLock.</summary>
    private bool TakeCommitWakeLocked()
    {
        if (!_loopWaiting)
        {
            return false;
        }

        _loopWaiting = false;
        return true;
    }

    private void SignalCommitLoop(bool wake)
    {
        if (!wake)
        {
            return;
        }

        lock (_commitWake)
        {
            _commitWakeRequested = true;
            Monitor.Pulse(_commitWake);
        }
    }

    /// <summary>
    /// Sleeps until signalled (a batch or an action queued, a segment sync handed over, the store stopping) or until
    /// <paramref name="timeout"/> ends; returns at once when a signal is pending. True when the wait timed out. The caller
    /// set _loopWaiting under _queueLock when it found nothing to do; the next pass clears it.
    /// </summary>
    private bool SleepUntilSignalled(int timeout)
    {
        lock (_commitWake)
        {
            var signalled = _commitWakeRequested || Monitor.Wait(_commitWake, timeout);
            _commitWakeRequested = false;
            return !signalled;
        }
    }

    /// <summary>Runs <paramref name="action"/> on the commit loop between two groups, behind the writes already queued.</summary>
    private Task RunOnCommitLoopAsync(Action action, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool wake;
        lock (_queueLock)
        {
            ThrowIfUnavailable();
            _queue.Enqueue((null, done, action));
            wake = TakeCommitWakeLocked();
        }

        SignalCommitLoop(wake);
        return done.Task;
    }

    private void StartCommitLoop()
    {
        _lastSyncTimestamp = Stopwatch.GetTimestamp();
        new Thread(CommitLoop) { IsBackground = true, Name = "pyralog-commit" }.Start();
    }

    /// <summary>Refuses new writes and lets the loop exit once the queue is empty; false if already stopping.</summary>
    private bool StopCommitLoop()
    {
        bool wake;
        lock (_queueLock)
        {
            if (_disposed)
            {
                return false;
            }

            _disposed = true;
            _stopping = true;
            wake = TakeCommitWakeLocked();
        }

        SignalCommitLoop(wake);
        return true;
    }

    private void CommitLoop()
    {
        try
        {
            // True after a sleep that timed out: in Interval durability, the unsynced writes' interval has ended.
            var syncDue = false;
            while (true)
            {
                Interlocked.Increment(ref _commitLoopPasses);
                Action? action = null;
                TaskCompletionSource? actionDone = null;
                SegmentSync? segmentSync;
                int sleep;
                lock (_queueLock)
                {
                    _loopWaiting = false;
                    if (_queue.Count == 0 && _segmentSync is null)
                    {
                        if (_stopping)
                        {
                            return;
                        }

                        if (!syncDue)
                        {
                            // Nothing to do: sleep (a writer that queues from now on signals), checked and announced
                            // under the one lock a busy pass takes anyway.
                            _loopWaiting = true;
                            sleep = SyncWaitMilliseconds();
                            goto Sleep;
                        }
                    }
                    else
                    {
                        syncDue = false; // work arrived as the interval ended: a group runs the due sync after it commits (an action, the next pass)
                    }

                    // A segment sync runs alone between two groups (a faulted store runs it too: it harms nothing, and
                    // the next pass fails what is queued).
                    segmentSync = TakeSegmentSyncLocked();
                    if (segmentSync is null && _fault is not null)
                    {
                        FailQueuedLocked();
                        continue;
                    }

                    long groupBytes = 0;
                    while (segmentSync is null && groupBytes < MaxGroupBytes && _queue.TryPeek(out var next))
                    {
                        if (next.Action is not null)
                        {
                            if (_groupBatches.Count == 0)
                            {
                                _queue.Dequeue();
                                action = next.Action;
                                actionDone = next.Done;
                            }

                            break;
                        }

                        _queue.Dequeue();
                        _groupBatches.Add(next.Batch!);
                        _groupWaiters.Add(next.Done);
                        groupBytes += next.Batch!.Frame.Length;
                    }
                }

                if (segmentSync is not null)
                {
                    segmentSync.Run();
                }
                else if (syncDue)
                {
                    syncDue = false;
                    RunGuarded(SyncIfDue, null);
                }
                else if (action is not null)
                {
                    RunGuarded(action, actionDone);
                }
                else
                {
                    CommitQueuedGroup();
                }

                continue;
            Sleep:
                syncDue = SleepUntilSignalled(sleep);
            }
        }
        finally
        {
            _commitLoopExited.TrySetResult();
        }
    }

    private void RunGuarded(Action action, TaskCompletionSource? done)
    {
        try
        {
            action();
            done?.TrySetResult();
        }
        catch (Exception e)
        {
            Fault(e);
            done?.TrySetException(e);
        }
    }

    private void CommitQueuedGroup()
    {
        Exception? failure = null;
        try
        {
            EnsureRoom(GroupFrameBytes());
            CommitGroup();
        }
        catch (Exception e)
        {
            Fault(e);
            failure = e;
        }

        // Released before the writers hear back: a writer may reuse its batch as soon as its await completes.
        lock (_queueLock)
        {
            foreach (var batch in _groupBatches)
            {
                batch.Queued = false;
            }

            _uncommittedWrites -= _groupBatches.Count;
        }

        if (failure is null && _groupBatches.Count <= MaxGroupForCommittedListeners)
        {
            TellCommittedListeners();
        }

        foreach (var waiter in _groupWaiters)
        {
            if (failure is null)
            {
                waiter.TrySetResult();
            }
            else
            {
                waiter.TrySetException(failure);
            }
        }

        _groupBatches.Clear();
        _groupWaiters.Clear();
        if (failure is null)
        {
            RunGuarded(SyncIfDue, null); // Interval mode under steady load: the loop may never idle long enough for its timed wait
        }
    }

    private void TellCommittedListeners()
    {
        foreach (var batch in _groupBatches)
        {
            try
            {
                batch.CommittedListener?.Committed();
            }
            catch (Exception)
            {
                // The listener's contract: one that throws counts as not called, and its writer acts after its await.
            }
        }
    }

    /// <summary>Syncs of the current WAL waiting now for another to end (a compaction's behind the commit thread's, say).</summary>
    internal int WalSyncWaiters => _wal.SyncGateWaiters;

    /// <summary>How many times the commit loop has looked for work (each group, action, sync or empty wake-up is one pass).</summary>
    internal long CommitLoopPasses => Interlocked.Read(ref _commitLoopPasses);

    /// <summary>How long the idle loop may sleep: forever, except in Interval mode with unsynced writes (caller holds _queueLock).</summary>
    private int SyncWaitMilliseconds()
    {
        if (_options.Durability != DurabilityMode.Interval || !_unsynced || _fault is not null)
        {
            return Timeout.Infinite; // a faulted store syncs nothing more: its failed sync is not retried every pass
        }

        var remaining = _options.SyncInterval - Stopwatch.GetElapsedTime(_lastSyncTimestamp);
        return remaining <= TimeSpan.Zero ? 0 : (int)Math.Ceiling(remaining.TotalMilliseconds);
    }

    private void SyncIfDue()
    {
        if (_options.Durability == DurabilityMode.Interval && _unsynced && Stopwatch.GetElapsedTime(_lastSyncTimestamp) >= _options.SyncInterval)
        {
            SyncWal();
        }
    }

    /// <summary>fdatasync of the WAL. In batch mode a failed sync also undoes the group's unsynced frames (its writers
    /// are told it failed, so it must not turn up after a reopen); in interval mode the writes were acknowledged
    /// already, and the failure faults the store.</summary>
    private void SyncWal()
    {
        var started = Stopwatch.GetTimestamp();
        if (_options.Durability == DurabilityMode.PerBatch)
        {
            _wal.SyncOrUndo();
        }
        else
        {
            _wal.Sync();
        }

        _unsynced = false;
        _lastSyncTimestamp = Stopwatch.GetTimestamp();
        Volatile.Write(ref _lastWalSyncAt, _options.TimeProvider.GetTimestamp());
        Interlocked.Increment(ref _walSyncs);
        StoreCommitInstruments.WalSyncDuration.Record(Stopwatch.GetElapsedTime(started, _lastSyncTimestamp).TotalSeconds);
    }

    /// <summary>Writes the group's frames with one write and (per mode) one fdatasync, then applies and publishes them.</summary>
    private void CommitGroup()
    {
        var now = _options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        _groupFrames.Clear();
        long total = 0;
        foreach (var batch in _groupBatches)
        {
            total += batch.Frame.Length;
        }

        RotateToSpareBeforeGrowing(total); // before sealing: each frame names the file it is written to
        var sequence = _sequence;
        var syncGroup = false;
        foreach (var batch in _groupBatches)
        {
            syncGroup |= !batch.SkipSync;
            batch.Seal(++sequence, now, _wal.FileNumber, _wal.SyncedLength, _wal.CrcSeed);
            _groupFrames.Add(batch.Frame);
        }

        _wal.Write(_groupFrames, total);
        _wal.LastSequence = sequence;
        _unsynced = true;
        _groupNumber++;
        Interlocked.Increment(ref _commitGroups);
        StoreCommitInstruments.CommitGroupSize.Record(_groupBatches.Count);

        // A large group is applied to the memtable by a pool thread while this thread runs the fdatasync: the sync,
        // the longer of the two, starts at once instead of after a thread hand-off. Until the join the apply is the
        // only writer of the memtable and the log states. Nothing applied is visible before the publish, which
        // happens only after the sync succeeded.
        _groupNow = now;
        long userBytes;
        if (_options.Durability == DurabilityMode.PerBatch && syncGroup && total >= OverlapSyncBytes)
        {
            var apply = Task.Run(_applyGroup);
            Exception? syncFailure = null;
            try
            {
                SyncWal();
            }
            catch (Exception e)
            {
                syncFailure = e; // joined first: nothing else may touch the memtable while the apply runs
            }

            userBytes = apply.GetAwaiter().GetResult(); // the commit thread's own wait: no caller's thread blocks here
            if (syncFailure is not null)
            {
                ExceptionDispatchInfo.Throw(syncFailure);
            }
        }
        else
        {
            if (_options.Durability == DurabilityMode.PerBatch && !syncGroup)
            {
                _wal.MarkAcknowledged();
                Volatile.Write(ref _unsyncedAcknowledged, true);
                if (_options.BackgroundWork)
                {
                    _wal.SyncBehind(); // so the swap's sync of this file finds little left (see WriteAheadLog.SyncBehind)
                }
            }
            else if (_options.Durability == DurabilityMode.PerBatch)
            {
                SyncWal();
            }

            userBytes = ApplyGroup();
        }

        _groupFrames.Clear();
        Interlocked.Add(ref _walBytes, total);
        Interlocked.Add(ref _userBytes, userBytes);
        Publish();
    }

    /// <summary>Applies the group's frames to the memtable; returns their user bytes. One thread at a time (see CommitGroup).</summary>
    private long ApplyGroup()
    {
        long userBytes = 0;
        foreach (var batch in _groupBatches)
        {
            var frame = batch.FrameSpan;
            ApplyFrame(BinaryPrimitives.ReadUInt64LittleEndian(frame[8..]), _groupNow, batch.Count, frame[WriteBatch.HeaderBytes..], default, 0);
            userBytes += frame.Length - WriteBatch.HeaderBytes;
        }

        return userBytes;
    }

    /// <summary>Makes everything applied so far visible: the touched logs' states and the sequence, together.</summary>
    private void Publish()
    {
        lock (_viewLock)
        {
            foreach (var log in _touched)
            {
                log.Published = log.Writer;
            }

            _publishedSequence = _sequence;
        }

        _touched.Clear();
    }

    private long GroupFrameBytes()
    {
        long bytes = 0;
        foreach (var batch in _groupBatches)
        {
            bytes += batch.Frame.Length;
        }

        return bytes;
    }
}
