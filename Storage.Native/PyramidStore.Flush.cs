using Pyralog.Storage.Native.Keys;
using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Manifest;
using Pyralog.Storage.Native.Memtables;
using Pyralog.Storage.Native.Native;
using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native;

/// <summary>The flush worker: writes swapped-out memtables to L0 segments (log records: one segment per log that
/// appended much, shared ones for the rest; one for the internal keys, one for user key/values), then installs them in
/// a new manifest.</summary>
public sealed partial class PyramidStore
{
    private readonly SemaphoreSlim _flushSignal = new(0);

    // One flush at a time (the worker, FlushAsync, or the commit loop when background work is off).
    private readonly object _flushLock = new();

    // Lent to the flush's segment writers one after another. Invariant: used only under _flushLock.
    private readonly SegmentWriterBuffers _flushBuffers = new();

    // Manifest writes and version installs. Invariant: _lastFlushedSequence and _flushedStates are read and
    // written under _manifestLock, and describe the newest manifest on disk.
    private readonly object _manifestLock = new();
    private ulong _lastFlushedSequence;
    private IReadOnlyDictionary<ulong, LogSpaceState> _flushedStates = new Dictionary<ulong, LogSpaceState>();

    private Task[] _workers = [];

    // Invariant: slot 0 (flush) and 1 (compaction) hold the worker's OS thread id once it runs at its priority, 0 before; for tests.
    private readonly int[] _backgroundThreadIds = new int[2];

    /// <summary>The OS thread ids of the flush and compaction workers, 0 until each has started.</summary>
    internal int[] BackgroundThreadIds => [Volatile.Read(ref _backgroundThreadIds[0]), Volatile.Read(ref _backgroundThreadIds[1])];

    private void StartWorkers()
    {
        if (!_options.BackgroundWork)
        {
            return;
        }

        _workers = [StartWorker("pyralog-flush", 0, FlushLoop), StartWorker("pyralog-compaction", 1, CompactionLoop)];
        bool pending;
        lock (_viewLock)
        {
            pending = _immutables.Count > 0;
        }

        if (pending)
        {
            _flushSignal.Release();
        }
    }

    /// <summary>
    /// A long-running worker on a thread of its own, at <see cref="PyramidOptions.BackgroundPriority"/>; the task
    /// completes when the thread ends. A thread that cannot take its priority faults the store (writes are refused with
    /// the reason) rather than run at one it was not given.
    /// </summary>
    private Task StartWorker(string name, int slot, Action loop)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try
            {
                try
                {
                    OsThreadPriority.Lower(_options.BackgroundPriority);
                }
                catch (IOException e)
                {
                    Fault(e);
                    return;
                }

                Volatile.Write(ref _backgroundThreadIds[slot], OsThreadPriority.CurrentThreadId());
                loop();
            }
            finally
            {
                done.TrySetResult();
            }
        })
        { IsBackground = true, Name = name }.Start();
        return done.Task;
    }

    private void FlushLoop()
    {
        var token = _stop.Token;
        try
        {
            while (true)
            {
                _flushSignal.Wait(token);
                FlushImmutables();
            }
        }
        catch (OperationCanceledException)
        {
            // Shutdown.
        }
        catch (Exception e)
        {
            Fault(e);
        }
    }

    private void FlushImmutables()
    {
        lock (_flushLock)
        {
            ThrowIfClosed(); // a FlushAsync whose flush step starts after DisposeAsync closed the files
            while (true)
            {
                Memtable? oldest;
                lock (_viewLock)
                {
                    oldest = _immutables.Count > 0 ? _immutables[0] : null;
                }

                if (oldest is null)
                {
                    return;
                }

                var cpu = LibC.CurrentThreadCpuTime();
                FlushOne(oldest);
                Interlocked.Add(ref _flushCpuTicks, (LibC.CurrentThreadCpuTime() - cpu).Ticks);
            }
        }
    }

    private void FlushOne(Memtable memtable)
    {
        var written = new FlushOutputs();
        try
        {
            try
            {
                WriteLogSegments(memtable, written);
                WriteKeySpaceSegments(memtable, written);
                SyncBetweenGroups(written.Sync);
                written.DropLogPages();
            }
            finally
            {
                written.Dispose();
            }
        }
        catch
        {
            DeleteOutputs(written.Segments);
            throw;
        }

        var opened = OpenOutputs(written.Segments, ref _flushBytes);

        lock (_manifestLock)
        {
            var current = _version.Levels;
            var levels = (Segment[][])current.Clone();
            levels[0] = [.. Enumerable.Reverse(opened), .. current[0]];
            try
            {
                InstallVersion(levels, memtable.MaxSequence, memtable.FrozenStates, () =>
                {
                    _immutables = _immutables.Where(m => !ReferenceEquals(m, memtable)).ToList();
                    _immutablesNewestFirst = [.. Enumerable.Reverse(_immutables)];
                });
                memtable.Release(); // unpublished: the store's pin goes, views still reading it keep theirs
            }
            finally
            {
                ReleaseOutputs(opened); // installed, the version holds them; not (the manifest write failed), they go
            }
        }

        DeleteRetiredWals(memtable.MaxSequence);
        Interlocked.Increment(ref _flushes);
        TaskCompletionSource progress;
        lock (_viewLock)
        {
            progress = _flushProgress;
            _flushProgress = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        progress.TrySetResult();
        _compactionSignal.Release();
    }

    /// <summary>Best effort, after a failed flush: the failure to report is the flush's own.</summary>
    private void DeleteOutputs(List<SegmentMetadata> outputs)
    {
        try
        {
            foreach (var output in outputs)
            {
                _options.Device.Delete(Path.Combine(_directory, SegmentFormat.FileName(output.FileNumber)));
            }
        }
        catch (IOException)
        {
            // Left as orphans: the next open deletes them.
        }
    }

    /// <summary>
    /// The live records of every log in the memtable, in (log, offset) order: a log that holds at least
    /// <see cref="PyramidOptions.SeparateLogSegmentBytes"/> gets a segment of its own, the others share segments
    /// with their neighbours.
    /// </summary>
    private void WriteLogSegments(Memtable memtable, FlushOutputs written)
    {
        if (!memtable.HasLogs)
        {
            return;
        }

        SegmentWriter? writer = null;
        try
        {
            foreach (var log in memtable.LogIds())
            {
                if (!memtable.FrozenStates.TryGetValue(log, out var state) || state.First >= state.Next)
                {
                    continue; // truncated away before the swap
                }

                var separate = memtable.FindLog(log)!.Bytes >= _options.SeparateLogSegmentBytes;
                if (separate && writer is not null)
                {
                    written.Complete(ref writer); // the shared segment ends before this log
                }

                AddLogRecords(memtable, log, state, ref writer);

                if (separate && writer is not null)
                {
                    written.Complete(ref writer);
                }
            }

            if (writer is not null)
            {
                written.Complete(ref writer);
            }
        }
        finally
        {
            writer?.Dispose();
        }
    }

    /// <summary>
    /// Adds <paramref name="log"/>'s records in [First, Next) of <paramref name="state"/> in offset order, each from the
    /// newest run that holds it (a run started by appends after a suffix truncation hides the older ones from its base
    /// on), skipping offsets no run holds. A stretch served by one run is copied without looking each record up (the
    /// flush worker's CPU is taken from the writers on a busy machine).
    /// </summary>
    private void AddLogRecords(Memtable memtable, ulong log, LogSpaceState state, ref SegmentWriter? writer)
    {
        var runs = memtable.FindLog(log)!.Runs;
        Span<byte> key = stackalloc byte[KeyCodec.LogKeyLength];
        var offset = state.First;
        while (offset < state.Next)
        {
            // Invariant: until is where a newer run than the one found takes over (or the end of the found run or of the state).
            LogRun? holder = null;
            var until = state.Next;
            for (var i = runs.Length - 1; i >= 0; i--)
            {
                var run = runs[i];
                if (offset >= run.BaseOffset && offset < run.EndOffset)
                {
                    holder = run;
                    until = Math.Min(until, run.EndOffset);
                    break;
                }

                if (run.BaseOffset > offset)
                {
                    until = Math.Min(until, run.BaseOffset);
                }
            }

            if (holder is null)
            {
                offset = until; // a gap: no run holds it, the next one starts at until
                continue;
            }

            for (; offset < until; offset++)
            {
                KeyCodec.WriteLogKey(key, log, offset);
                writer ??= NewFlushSegment();
                writer.Add(SegmentFormat.KindPut, key, memtable.RunRecord(holder, offset));
            }
        }
    }

    /// <summary>
    /// The memtable's internal keys (retention markers) and user key/values: one segment per key space. A segment holding
    /// both would span the whole log space between them (see <see cref="KeyCodec"/>), overlap every log segment and pull
    /// them all into its merges.
    /// </summary>
    private void WriteKeySpaceSegments(Memtable memtable, FlushOutputs written)
    {
        SegmentWriter? writer = null;
        try
        {
            for (var node = memtable.Kv.First; !node.IsNull; node = node.Next)
            {
                if (writer is not null && !KeyCodec.SameSpace(node.Key, writer.LastKey))
                {
                    written.Complete(ref writer);
                }

                writer ??= NewFlushSegment();
                var version = node.Latest;
                writer.Add(version.IsTombstone ? SegmentFormat.KindDelete : SegmentFormat.KindPut, node.Key, version.Value);
            }

            if (writer is not null)
            {
                written.Complete(ref writer);
            }
        }
        finally
        {
            writer?.Dispose();
        }
    }

    private SegmentWriter NewFlushSegment() =>
        new(_options.Device, _directory, Interlocked.Increment(ref _nextFileNumber) - 1, _options.BlockBytes, _options.BloomBitsPerKey, null, _flushBuffers);

    /// <summary>Persists <paramref name="levels"/> in a new manifest, then publishes it. Caller holds _manifestLock.</summary>
    private void InstallVersion(
        Segment[][] levels, ulong flushedSequence, IReadOnlyDictionary<ulong, LogSpaceState> flushedStates, Action? underViewLock, IEnumerable<Segment>? retired = null)
    {
        var manifestLevels = new List<IReadOnlyList<SegmentMetadata>>(levels.Length);
        foreach (var level in levels)
        {
            manifestLevels.Add(level.Select(s => s.Metadata).ToList());
        }

        ManifestFile.Write(_options.Device, _directory, new ManifestData(Interlocked.Read(ref _nextFileNumber), flushedSequence, flushedStates, manifestLevels));
        _lastFlushedSequence = flushedSequence;
        _flushedStates = flushedStates;
        foreach (var segment in retired ?? [])
        {
            segment.MarkObsolete(); // deleted once the last view using it lets go
        }

        var version = new StoreVersion(levels);
        StoreVersion old;
        lock (_viewLock)
        {
            old = _version;
            _version = version;
            underViewLock?.Invoke();
        }

        old.Release();
    }

    /// <summary>Lets go of the store's own references to opened outputs: the version that installed them keeps its own;
    /// outputs whose install failed are unmapped (their files, named by no manifest, go at the next open).</summary>
    private static void ReleaseOutputs(List<Segment> opened)
    {
        foreach (var segment in opened)
        {
            segment.Release();
        }
    }

    /// <summary>Opens the segments a flush or compaction wrote, adding their bytes to <paramref name="written"/>. If one fails
    /// its checks or cannot be mapped, those opened before it are let go again (the files stay until the next open deletes
    /// them as orphans: no manifest names them).</summary>
    private List<Segment> OpenOutputs(IReadOnlyList<SegmentMetadata> outputs, ref long written)
    {
        var opened = new List<Segment>(outputs.Count);
        try
        {
            foreach (var output in outputs)
            {
                opened.Add(Segment.Open(_options.Device, _directory, output, _cache, _mapBudget));
                Interlocked.Add(ref written, output.SizeBytes);
            }

            return opened;
        }
        catch
        {
            foreach (var segment in opened)
            {
                segment.Release();
            }

            throw;
        }
    }
}
