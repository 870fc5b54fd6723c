using Pyralog.Storage.Native.Devices;
using Pyralog.Storage.Native.Wal;

namespace Pyralog.Storage.Native;

/// <summary>
/// WAL files for the next memtables: a retired, flushed WAL is recycled when one is free; otherwise a spare
/// file, zero-filled and synced in the background, is renamed into place. Either way a memtable swap never
/// zero-fills on the commit path, and appends overwrite allocated blocks, so each fdatasync flushes data
/// only (a file growing under the writer would add a journal commit, and an inline zero-fill a multi-MiB
/// write, to the sync of whichever batch crossed the boundary: that was the storage bench's p99).
/// </summary>
public sealed partial class PyramidStore
{
    // Invariant: _spareWal is read and written under _viewLock; at most one preparation runs (_spareTask).
    private string? _spareWal;
    private Task _spareTask = Task.CompletedTask;

    /// <summary>Bytes of a spare: a memtable's worth of frames plus slack (past it the WAL grows as before).</summary>
    private long SpareBytes => Math.Min(_options.MemtableBytes + (4L << 20), 1L << 30);

    /// <summary>A WAL source for the next swap: a recyclable file, else the spare, else null (create a new file).</summary>
    private string? TakeWalSource()
    {
        lock (_viewLock)
        {
            if (_recyclableWals.Count > 0)
            {
                var recycle = _recyclableWals[^1];
                _recyclableWals.RemoveAt(_recyclableWals.Count - 1);
                return recycle;
            }

            var spare = _spareWal;
            _spareWal = null;
            return spare;
        }
    }

    /// <summary>Starts preparing a spare unless one is ready or on its way, a WAL retired by a swap will be recyclable
    /// once its memtable is flushed (in steady state the next swap takes that one, and a spare would be a memtable's
    /// worth of zeros written and synced for nothing, slowing the WAL syncs it overlaps), or background work is off (then a
    /// swap creates its WAL inline, and every file operation happens in the caller's order). Commit loop (or open) only.</summary>
    private void PrepareSpareWal()
    {
        if (!_options.BackgroundWork)
        {
            return;
        }

        lock (_viewLock)
        {
            if (_spareWal is not null || !_spareTask.IsCompleted || _closed || _recyclableWals.Count > 0 || _retiredWals.Exists(w => w.Recycle))
            {
                return;
            }

            _spareTask = Task.Run(() =>
            {
                if (WriteSpareWal() is { } path)
                {
                    lock (_viewLock)
                    {
                        _spareWal = path;
                    }
                }
            });
        }
    }

    /// <summary>Writes a spare (zero-filled and synced, see <see cref="WriteAheadLog.WriteSpare"/>) under a new file
    /// number; null when the file system refused (full disk, file-size limit): the swap that wanted it creates its WAL
    /// the slow way and reports a failure that matters there.</summary>
    private string? WriteSpareWal()
    {
        var path = Path.Combine(_directory, WriteAheadLog.SpareFileName(Interlocked.Increment(ref _nextFileNumber) - 1));
        try
        {
            WriteAheadLog.WriteSpare(_options.Device, path, SpareBytes);
            return path;
        }
        catch (Exception e) when (e is IOException or ArgumentOutOfRangeException or UnauthorizedAccessException)
        {
            TryDelete(_options.Device, path);
            return null;
        }
    }

    /// <summary>
    /// Starts the WAL an opened store writes to. With background work the store makes, before it takes a write, a spare
    /// to start in and the spare its first memtable swap takes: otherwise its first memtable's groups either grew a small
    /// file on the commit path or, for the few hundred milliseconds a spare took to write in the background, shared the
    /// disk with it, each fdatasync also carrying the zeros written since the last (the disk's cache flush writes out
    /// whatever reached it). On this machine that was up to a fifth of a fresh store's first two seconds of 100 B batch
    /// appends. The open pays instead: two memtables' worth of zeros written and synced (0.2–0.4 s at 64 MiB memtables
    /// here). From the second swap on, retired files are recycled. Open only, after recovery.
    /// </summary>
    private void OpenActiveWal()
    {
        var start = _options.BackgroundWork ? WriteSpareWal() : null;
        _wal = WriteAheadLog.Create(_options.Device, _directory, Interlocked.Increment(ref _nextFileNumber) - 1, start);
        _wal.LastSequence = _sequence;
        if (start is not null)
        {
            var next = WriteSpareWal();
            lock (_viewLock)
            {
                _spareWal = next;
            }
        }
    }

    /// <summary>
    /// Before a group that would grow the WAL (a store opened without a spare starts in a file of
    /// <see cref="WriteAheadLog.PreallocatedBytes"/>, see <see cref="OpenActiveWal"/>; a memtable's frames may outgrow a spare):
    /// moves on to the spare if one is ready, without swapping the memtable, instead of zero-filling regions of the file
    /// on the commit path (a new store's first memtable grew its file five times, each a commit of 4–25 ms). The file
    /// left behind is retired like a swapped-out memtable's, but not recycled (it is small: a memtable recycling it would
    /// grow it again); the flush of the memtable that holds its records deletes it. Commit loop only.
    /// </summary>
    private void RotateToSpareBeforeGrowing(long bytes)
    {
        if (_wal.Fits(bytes))
        {
            return;
        }

        string? spare;
        lock (_viewLock)
        {
            spare = _spareWal;
            _spareWal = null;
        }

        if (spare is null)
        {
            return;
        }

        SwitchWal(spare, recycleRetired: false);
    }

    /// <summary>Completes the current WAL, retires it (recycled once its memtable is flushed, or deleted then) and starts
    /// the next file from <paramref name="source"/> (a recyclable WAL or the spare; null: a new file). Commit loop only.</summary>
    private void SwitchWal(string? source, bool recycleRetired)
    {
        _wal.Complete(); // a file is complete on disk before its successor exists, so only the newest can be torn
        var next = WriteAheadLog.Create(_options.Device, _directory, Interlocked.Increment(ref _nextFileNumber) - 1, source);
        next.LastSequence = _sequence;
        lock (_viewLock)
        {
            _retiredWals.Add((_wal.FileNumber, _wal.Path, _wal.LastSequence, recycleRetired));
        }

        _wal.Dispose();
        _wal = next;
        _unsynced = false; // Complete synced the old file; the new one holds nothing yet
        PrepareSpareWal();
    }

    private static void TryDelete(IStorageDevice device, string path)
    {
        try
        {
            device.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind: the next open deletes it (a WAL file once its frames are flushed, a spare always).
        }
    }

    /// <summary>Spares are never replayed: a crash may leave one, and open deletes it.</summary>
    private static void DeleteSpareWals(IStorageDevice device, string directory)
    {
        foreach (var path in device.EnumerateFiles(directory))
        {
            if (WriteAheadLog.IsSpareFileName(Path.GetFileName(path)))
            {
                device.Delete(path);
            }
        }
    }
}
