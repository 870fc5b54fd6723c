using System.Diagnostics;
using Pyralog.Storage.Native.Compaction;
using Pyralog.Storage.Native.Devices;
using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Manifest;
using Pyralog.Storage.Native.Segments;
using Pyralog.Storage.Native.Wal;

namespace Pyralog.Storage.Native;

/// <summary>Opening a store: lock the directory, read the manifest, open its segments, replay the WAL, start the loops.</summary>
public sealed partial class PyramidStore
{
    /// <summary>Opens (creating if needed) the store in <paramref name="directory"/> and recovers it.</summary>
    public static PyramidStore Open(string directory, PyramidOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        options ??= new PyramidOptions();
        options.Validate();
        var started = Stopwatch.GetTimestamp();
        directory = Path.GetFullPath(directory);
        FileStream lockFile;
        try
        {
            CreateDirectoryDurably(options.Device, directory);
            lockFile = new FileStream(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException($"cannot open store directory '{directory}' for writing: {e.Message}", e);
        }
        catch (IOException e) when (e is not PyramidCorruptionException)
        {
            throw new IOException($"cannot open store directory '{directory}' (is it open in another process, or not writable?): {e.Message}", e);
        }

        var cache = new BlockCache(options.BlockCacheBytes);
        var mapBudget = new SegmentMapBudget(options.MaxMappedSegments > 0 ? options.MaxMappedSegments : SegmentMapBudget.DefaultLimit());
        var opened = new List<Segment>();
        try
        {
            var manifest = ManifestFile.Read(options.Device, directory);
            if (manifest is null)
            {
                manifest = ManifestFile.CreateEmpty(options.Device, directory); // syncs the directory
            }
            else
            {
                // The manifest read may be a rename a crash left in the page cache only (ManifestFile.Write renames, then
                // syncs the directory). Everything below deletes what it no longer names (compaction inputs, flushed WAL
                // files): without this sync those deletes could reach the disk while the rename does not, and a power
                // loss would leave the old manifest naming deleted files.
                options.Device.SyncDirectory(directory);
            }

            options.Device.Delete(Path.Combine(directory, "MANIFEST.tmp"));
            DeleteSpareWals(options.Device, directory);
            var live = new HashSet<long>();
            var levels = new Segment[CompactionPicker.MaxLevels][];
            for (var level = 0; level < levels.Length; level++)
            {
                var list = new List<Segment>();
                if (level < manifest.Levels.Count)
                {
                    foreach (var metadata in manifest.Levels[level])
                    {
                        var segment = Segment.Open(options.Device, directory, metadata, cache, mapBudget);
                        opened.Add(segment);
                        list.Add(segment);
                        live.Add(metadata.FileNumber);
                    }
                }

                levels[level] = [.. list];
            }

            var orphans = 0;
            var maxFileNumber = manifest.NextFileNumber - 1;
            var walFiles = new List<(long Number, string Path)>();
            foreach (var path in options.Device.EnumerateFiles(directory))
            {
                var name = Path.GetFileName(path);
                if (SegmentFormat.TryParseFileNumber(name, out var number))
                {
                    maxFileNumber = Math.Max(maxFileNumber, number);
                    if (!live.Contains(number))
                    {
                        options.Device.Delete(path);
                        orphans++;
                    }
                }
                else if (WriteAheadLog.TryParseFileNumber(name, out number))
                {
                    maxFileNumber = Math.Max(maxFileNumber, number);
                    walFiles.Add((number, path));
                }
            }

            walFiles.Sort((a, b) => a.Number.CompareTo(b.Number));
            var store = new PyramidStore(directory, options, lockFile, cache, mapBudget, new StoreVersion(levels))
            {
                _nextFileNumber = maxFileNumber + 1,
                _lastFlushedSequence = manifest.LastFlushedSequence,
                _flushedStates = manifest.LogStates,
                _sequence = manifest.LastFlushedSequence,
            };
            foreach (var (id, state) in manifest.LogStates)
            {
                store._logs[id] = new StoredLog(id, state);
            }

            foreach (var segment in opened)
            {
                segment.Release(); // the version holds them now
            }

            opened.Clear();
            try
            {
                store.Recover(walFiles, orphans, started);
                store.OpenActiveWal();
            }
            catch
            {
                store.ReleasePins(); // also the leases recovered memtables took on WAL mappings
                _ = store._arenas.StopWarmingAsync(); // a warmer the replay's key/values started ends on its own
                throw;
            }

            store.PrepareSpareWal();
            store.StartCommitLoop();
            store.StartWorkers();
            return store;
        }
        catch
        {
            foreach (var segment in opened)
            {
                segment.Release();
            }

            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>Creates <paramref name="directory"/> and its missing parents, then syncs the parent of each level it
    /// created. Why: a new directory's entry is durable only once its parent is synced; without that a power loss could
    /// take a new store's directory, and with it files the store synced and acknowledged writes in.</summary>
    private static void CreateDirectoryDurably(IStorageDevice device, string directory)
    {
        var created = new List<string>();
        for (var level = directory; level is not null && !device.DirectoryExists(level); level = Path.GetDirectoryName(level))
        {
            created.Add(level);
        }

        if (created.Count == 0)
        {
            return;
        }

        device.CreateDirectory(directory);
        for (var i = created.Count - 1; i >= 0; i--)
        {
            device.SyncDirectory(Path.GetDirectoryName(created[i])!);
        }
    }

    private void Recover(List<(long Number, string Path)> walFiles, int orphans, long started)
    {
        ulong previous = 0;
        long frames = 0, bytes = 0, dropped = 0, tornAt = 0;
        string? tornFile = null;
        for (var i = 0; i < walFiles.Count; i++)
        {
            var (number, path) = walFiles[i];
            var newest = i == walFiles.Count - 1;
            var replay = WalReader.Replay(_options.Device, path, newest, _lastFlushedSequence, ref previous, this, _options.MaxWalFileBytes);
            frames += replay.Frames;
            bytes += replay.ValidLength;
            if (replay.DroppedBytes > 0)
            {
                tornFile = path;
                tornAt = replay.ValidLength;
                dropped = replay.DroppedBytes;
            }

            // Cut a torn, preallocated or stale tail so the file ends at its last frame once it is no longer the newest,
            // and sync every replayed file, cut or not: after a process crash its last frames may be in the page cache
            // only (written, never synced), and the store publishes what it replayed as durable. One fdatasync per WAL
            // file per open; a file the crashed process synced has nothing left to write.
            if (replay.ValidLength > 0) // 0: no complete header, else at least the header (its length depends on the version)
            {
                using var file = _options.Device.Open(path, FileMode.Open);
                if (replay.ValidLength < file.Length)
                {
                    file.SetLength(replay.ValidLength);
                }

                file.SyncData();
            }

            if (replay.ValidLength == 0)
            {
                _options.Device.Delete(path); // torn before its header was complete: it never held a frame
            }
            else
            {
                _retiredWals.Add((number, path, replay.LastSequence, false));
            }
        }

        _sequence = Math.Max(_sequence, previous);
        foreach (var log in _logs.Values)
        {
            log.Published = log.Writer;
            log.ReservedFirst = log.Writer.First;
            log.ReservedNext = log.Writer.Next;
        }

        _touched.Clear();
        _publishedSequence = _sequence;
        DeleteRetiredWals(_lastFlushedSequence);
        Recovery = new RecoveryReport(walFiles.Count, frames, bytes, tornFile, tornAt, dropped, orphans, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Retires WAL files whose every frame is flushed: up to <see cref="RecycledWalFiles"/> are kept
    /// for reuse by the next memtable swap, the rest are deleted.</summary>
    private void DeleteRetiredWals(ulong flushedThrough)
    {
        lock (_viewLock)
        {
            _retiredWals.RemoveAll(wal =>
            {
                if (wal.LastSequence > flushedThrough)
                {
                    return false;
                }

                if (wal.Recycle && _recyclableWals.Count < RecycledWalFiles)
                {
                    _recyclableWals.Add(wal.Path);
                }
                else
                {
                    TryDelete(_options.Device, wal.Path); // a file left behind costs a replay that skips every frame, not the store
                }

                return true;
            });
        }
    }
}
