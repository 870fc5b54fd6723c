using System.Runtime.ExceptionServices;

namespace Pyralog.Storage.Native;

/*
 * Segment syncs between commit groups: a flush's or a compaction's fdatasync of a segment, run on the commit thread
 * between two groups while commits sync the WAL, so the groups that would overlap it do not each pay for it (see
 * SyncBetweenGroups).
 */
public sealed partial class PyramidStore
{
    // A segment sync (a flush's, a compaction's) waiting for the commit thread (see SyncBetweenGroups): at most one; a
    // second asking meanwhile syncs inline. Invariant: _segmentSync and _commitWaitsForFlush are read and written under
    // _queueLock; while _commitWaitsForFlush, _segmentSync is null (a flush asking then syncs inline: the commit thread is
    // waiting for it).
    private SegmentSync? _segmentSync;
    private bool _commitWaitsForFlush;

    // When the commit thread last synced the WAL (TimeProvider timestamp, 0: not yet). Written by the commit thread, read by the
    // flush and compaction threads: a segment sync goes to the commit thread only while commits sync (SyncBetweenGroups).
    private long _lastWalSyncAt;
    private static readonly TimeSpan CommitsSyncWindow = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Runs <paramref name="sync"/> (a segment's fdatasync, for a flush or a compaction) on the commit thread between two
    /// groups, and waits for it:
    /// on a disk whose cache flush also writes out whatever other files sent it, a WAL sync issued while segment data are
    /// on their way waits for them, and the commit groups that overlap the segment sync each pay for it. Run between
    /// groups, the segment sync delays one group by as long, the batches queued meanwhile join that group, and the syncs
    /// after it are the WAL's own again. It is short: a segment went to the disk in steps as it was written
    /// (SegmentWriter.WritebackBytes), so only its last step and its metadata are left. Inline where the commit thread cannot take it:
    /// no background work (the commit thread may be the caller), durability other than per batch (commits do not sync),
    /// a stopping or faulted store, a commit thread waiting for a flush to make room (EnsureRoom), or another segment sync
    /// already waiting for the commit thread. Inline too while commits do not sync the WAL (none did in the last
    /// <see cref="CommitsSyncWindow"/>: the groups of logs acknowledged from the page cache): there is no WAL sync to
    /// spare, and on the commit thread the segment sync (40-80 ms under such a load here) held every commit back.
    /// </summary>
    private void SyncBetweenGroups(Action sync)
    {
        SegmentSync? handOff = null;
        var lastWalSync = Volatile.Read(ref _lastWalSyncAt);
        if (_options.BackgroundWork && _options.Durability == DurabilityMode.PerBatch
            && lastWalSync != 0 && _options.TimeProvider.GetElapsedTime(lastWalSync) < CommitsSyncWindow)
        {
            var wake = false;
            lock (_queueLock)
            {
                if (!_stopping && _fault is null && !_commitWaitsForFlush && _segmentSync is null)
                {
                    handOff = _segmentSync = new SegmentSync(sync);
                    wake = TakeCommitWakeLocked();
                }
            }

            SignalCommitLoop(wake);
        }

        if (handOff is null)
        {
            sync();
            return;
        }

        handOff.Done.Task.GetAwaiter().GetResult(); // a flush worker's own wait: no caller's thread blocks here
        if (handOff.Failure is not null)
        {
            ExceptionDispatchInfo.Throw(handOff.Failure);
        }
    }

    /// <summary>Takes the pending segment sync, if any; caller holds _queueLock.</summary>
    private SegmentSync? TakeSegmentSyncLocked()
    {
        var pending = _segmentSync;
        _segmentSync = null;
        return pending;
    }
}
