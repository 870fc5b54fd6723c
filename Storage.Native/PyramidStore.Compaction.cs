using Pyralog.Storage.Native.Compaction;
using Pyralog.Storage.Native.Keys;
using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native;

/// <summary>
/// The compaction worker: per-log retention, dropping whole segments below their log's first offset, and
/// leveled compaction. Data below a log's first offset is deleted only once the truncation that moved the
/// first offset is durable (see <see cref="DurableFirstOffsets"/>): with Interval or None durability a
/// truncation is visible before it is synced, and a power loss must never leave bounds that cover deleted data.
/// </summary>
public sealed partial class PyramidStore
{
    private readonly SemaphoreSlim _compactionSignal = new(0);

    // One compaction (or retention pass) at a time: the worker or CompactAsync.
    private readonly object _compactionLock = new();

    // Lent to the compaction's segment writers one after another. Invariant: used only under _compactionLock.
    private readonly SegmentWriterBuffers _compactionBuffers = new();

    /// <summary>Flushes, then merges every segment into one sorted run (dropping dead data and tombstones).</summary>
    public async Task CompactAsync(CancellationToken cancellationToken = default)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        await Task.Run(() =>
        {
            lock (_compactionLock)
            {
                ThrowIfClosed();
                var firsts = DurableFirstOffsets();
                DropRetiredLogSegments(firsts);
                var version = AcquireVersion();
                try
                {
                    if (CompactionPicker.PickFull(version.Levels) is { } job)
                    {
                        RunCompaction(job, version, firsts, limiter: null);
                    }
                }
                finally
                {
                    version.Release();
                }
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One pass of the compaction worker in the caller's thread, unthrottled (a store without background work, in tests).</summary>
    internal void CompactDue()
    {
        ThrowIfClosed();
        CompactOnce(limiter: null, CancellationToken.None);
    }

    /// <summary>Applies every log's age and size retention now (the background worker also does so periodically):
    /// one write for all the logs whose front is due to go.</summary>
    public async ValueTask ApplyRetentionAsync(CancellationToken cancellationToken = default)
    {
        WriteBatch? batch = null;
        try
        {
            foreach (var log in _logs.Values)
            {
                TimeSpan? age;
                long? bytes;
                lock (_viewLock)
                {
                    age = log.RetentionAge;
                    bytes = log.RetentionBytes;
                }

                if (age is null && bytes is null)
                {
                    continue;
                }

                var cut = RetentionCut(log, age, bytes);
                if (cut > GetLogBounds(log.Id).First)
                {
                    batch ??= new WriteBatch(256);
                    batch.TruncatePrefix(log.Id, cut);
                }
            }

            if (batch is not null)
            {
                await WriteAsync(batch, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            batch?.Dispose();
        }
    }

    /// <summary>The offset below which <paramref name="log"/>'s records are past its retention.</summary>
    private ulong RetentionCut(StoredLog log, TimeSpan? age, long? bytes)
    {
        var view = AcquireView(log.Id);
        try
        {
            var state = view.State;
            var cut = state.First;
            var markers = ReadMarkers(view, log.Id, state.First, state.Next);
            if (age is { } maxAge)
            {
                var cutoff = _options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds() - (long)maxAge.TotalMilliseconds;
                if (state.LastAppendTimeMs != long.MinValue && state.LastAppendTimeMs < cutoff)
                {
                    cut = state.Next;
                }
                else
                {
                    // A marker at offset o says every record below o was appended by its "previous" time.
                    foreach (var (offset, _, previous) in markers)
                    {
                        if (previous < cutoff)
                        {
                            cut = Math.Max(cut, offset);
                        }
                    }
                }
            }

            if (bytes is { } limit && state.Cumulative - state.FirstCumulative > limit)
            {
                foreach (var (offset, cumulative, _) in markers)
                {
                    if (state.Cumulative - cumulative <= limit)
                    {
                        cut = Math.Max(cut, offset);
                        break;
                    }
                }
            }

            return cut;
        }
        finally
        {
            view.Release();
        }
    }

    /// <summary>
    /// Every log's first offset as far as it is durable: the published first offsets, read before a WAL
    /// sync. A truncation published before the read was written to the WAL before it was published, so
    /// the sync (or, for an older WAL file, the sync that completed it) made it durable.
    /// </summary>
    private Dictionary<ulong, ulong> DurableFirstOffsets()
    {
        var firsts = new Dictionary<ulong, ulong>(_logs.Count);
        lock (_viewLock)
        {
            foreach (var log in _logs.Values)
            {
                firsts[log.Id] = log.Published.First;
            }
        }

        if (_options.Durability != DurabilityMode.PerBatch || Volatile.Read(ref _unsyncedAcknowledged))
        {
            try
            {
                Volatile.Read(ref _wal).Sync(); // safe against a rotation: a rotated file was synced before it closed
            }
            catch (IOException e)
            {
                // The kernel reports a writeback error to one fdatasync of the file only: the commit thread's next sync
                // would succeed over acknowledged writes that are lost. Stop the store, as a failed sync there does.
                Fault(e);
                throw;
            }
        }

        // A store stopped by a failure compacts nothing: a truncation whose WAL sync failed may never reach the disk, and
        // dropping the records below it would leave its log spanning records that are gone after a restart.
        lock (_queueLock)
        {
            if (_fault is not null)
            {
                throw StoppedByFault();
            }
        }

        return firsts;
    }

    private void CompactionLoop()
    {
        var token = _stop.Token;
        var limiter = _options.CompactionBytesPerSecond > 0 ? new RateLimiter(_options.CompactionBytesPerSecond) : null;
        try
        {
            while (!token.IsCancellationRequested)
            {
                _compactionSignal.Wait(_options.RetentionCheckInterval, token);
                CompactOnce(limiter, token);
            }
        }
        catch (OperationCanceledException)
        {
            // Shutdown.
        }
        catch (ObjectDisposedException)
        {
            // Shutdown raced a retention write.
        }
        catch (Exception e)
        {
            Fault(e);
        }
    }

    /// <summary>One pass of the worker: retention, whole-segment drops, then compactions until none is due.</summary>
    private void CompactOnce(RateLimiter? limiter, CancellationToken token)
    {
        lock (_compactionLock)
        {
            ApplyRetentionAsync(token).AsTask().GetAwaiter().GetResult(); // the worker's own thread waits
            var firsts = DurableFirstOffsets();
            DropRetiredLogSegments(firsts);
            while (!token.IsCancellationRequested)
            {
                var version = AcquireVersion();
                try
                {
                    var job = CompactionPicker.Pick(version.Levels, _options, _compactionPointers);
                    if (job is null)
                    {
                        return;
                    }

                    RunCompaction(job, version, firsts, limiter);
                }
                finally
                {
                    version.Release();
                }
            }
        }
    }

    private void RunCompaction(CompactionJob job, StoreVersion version, IReadOnlyDictionary<ulong, ulong> firsts, RateLimiter? limiter)
    {
        var outputs = job.Inputs.Count == 0
            ? []
            : Compactor.Merge(job, version.Levels, _directory, _options, firsts, () => Interlocked.Increment(ref _nextFileNumber) - 1, limiter, _compactionBuffers, SyncBetweenGroups, out _);
        var opened = OpenOutputs(outputs, ref _compactionBytes);

        lock (_manifestLock)
        {
            var removed = new HashSet<Segment>(job.Inputs);
            removed.UnionWith(job.TrivialMoves);
            var levels = new Segment[CompactionPicker.MaxLevels][];
            for (var level = 0; level < levels.Length; level++)
            {
                var kept = _version.Levels[level].Where(s => !removed.Contains(s)).ToList();
                if (level == job.OutputLevel)
                {
                    kept.AddRange(opened);
                    kept.AddRange(job.TrivialMoves);
                    kept.Sort((a, b) => a.Metadata.MinKey.AsSpan().SequenceCompareTo(b.Metadata.MinKey));
                }

                levels[level] = [.. kept];
            }

            try
            {
                InstallVersion(levels, _lastFlushedSequence, _flushedStates, null, job.Inputs);
            }
            finally
            {
                ReleaseOutputs(opened);
            }
        }

        Interlocked.Increment(ref _compactions);
    }

    /// <summary>Deletes whole segments holding records of one log only, all below that log's durable first offset (no rewrite needed).</summary>
    private void DropRetiredLogSegments(IReadOnlyDictionary<ulong, ulong> firsts)
    {
        lock (_manifestLock)
        {
            var retired = new List<Segment>();
            var levels = new Segment[_version.Levels.Length][];
            for (var level = 0; level < levels.Length; level++)
            {
                var kept = new List<Segment>();
                foreach (var segment in _version.Levels[level])
                {
                    var metadata = segment.Metadata;
                    if (KeyCodec.IsLogKey(metadata.MinKey) && KeyCodec.IsLogKey(metadata.MaxKey)
                        && KeyCodec.ReadLogId(metadata.MinKey) == KeyCodec.ReadLogId(metadata.MaxKey)
                        && firsts.TryGetValue(KeyCodec.ReadLogId(metadata.MaxKey), out var first)
                        && KeyCodec.ReadLogOffset(metadata.MaxKey) < first)
                    {
                        retired.Add(segment);
                    }
                    else
                    {
                        kept.Add(segment);
                    }
                }

                levels[level] = [.. kept];
            }

            if (retired.Count > 0)
            {
                InstallVersion(levels, _lastFlushedSequence, _flushedStates, null, retired);
            }
        }
    }
}
