using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Memtables;

namespace Pyralog.Storage.Native;

/*
 * The memtable switch, on the commit thread: a full active memtable (or one whose WAL file the next group would take
 * past MaxWalFileBytes) is frozen with its logs' states and handed to the flush worker, and its successor starts on a
 * new WAL file. While MaxImmutableMemtables await flush, the commit thread waits (back-pressure: writers see their
 * awaits take longer, memory stays bounded).
 */
public sealed partial class PyramidStore
{
    /// <summary>Swaps a full memtable out (or one whose WAL file the group would take past
    /// <see cref="PyramidOptions.MaxWalFileBytes"/>), first waiting (back-pressure) while too many await flush.</summary>
    private void EnsureRoom(long groupBytes)
    {
        if (_active.ApproximateBytes < _options.MemtableBytes && (_active.IsEmpty || _wal.FileLengthAfter(groupBytes) <= _options.MaxWalFileBytes))
        {
            return;
        }

        while (true)
        {
            Task progress;
            lock (_viewLock)
            {
                if (_immutables.Count < _options.MaxImmutableMemtables)
                {
                    break;
                }

                progress = _flushProgress.Task;
            }

            if (_options.BackgroundWork)
            {
                // The flush this waits for may have asked this thread to run its segment sync: run it now, and let a
                // later ask sync inline while this thread waits (see SyncBetweenGroups).
                SegmentSync? pending;
                lock (_queueLock)
                {
                    _commitWaitsForFlush = true;
                    pending = TakeSegmentSyncLocked();
                }

                try
                {
                    pending?.Run();
                    progress.GetAwaiter().GetResult(); // on the commit thread: writers only see their await take longer
                }
                finally
                {
                    lock (_queueLock)
                    {
                        _commitWaitsForFlush = false;
                    }
                }
            }
            else
            {
                FlushImmutables();
            }
        }

        SwapMemtable();
    }

    /// <summary>Freezes the active memtable and starts a new WAL file for its successor. Commit loop only.</summary>
    private void SwapMemtable()
    {
        if (_active.IsEmpty)
        {
            return;
        }

        SwitchWal(TakeWalSource(), recycleRetired: true);
        FreezeActive();
    }

    private void FreezeActive()
    {
        var frozen = _active;
        var states = new Dictionary<ulong, LogSpaceState>(_logs.Count);
        foreach (var log in _logs.Values)
        {
            states[log.Id] = log.Writer;
        }

        frozen.FrozenStates = states;
        frozen.MaxSequence = _sequence;
        lock (_viewLock)
        {
            _immutables = [.. _immutables, frozen];
            _immutablesNewestFirst = [.. Enumerable.Reverse(_immutables)];
            _active = new Memtable(_arenas);
        }

        _flushSignal.Release();
    }
}
