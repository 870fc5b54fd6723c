using System.Runtime.CompilerServices;
using System.Buffers.Binary;
using System.Diagnostics;
using Pyralog.Storage.Native.Compaction;
using Pyralog.Storage.Native.Keys;
using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Manifest;
using Pyralog.Storage.Native.Memtables;
using Pyralog.Storage.Native.Segments;
using Pyralog.Storage.Native.Wal;

namespace Pyralog.Storage.Native;

/// <summary>
/// The Pyramid LSM engine: a log space addressed by (epoch, dense offset) and a key/value space on
/// one write-ahead log, memtable and set of leveled segments.
/// <para>Write path: callers enqueue a <see cref="WriteBatch"/>; the first caller to find no commit in
/// progress becomes the leader, writes every queued batch with one gathered write and one fdatasync
/// (group commit), applies them to the memtable in sequence order and completes the followers.</para>
/// <para>Durability: an acknowledged write survives a crash per <see cref="DurabilityMode"/>; recovery
/// = newest manifest + replay of WAL frames after its flushed sequence, dropping only a torn tail.</para>
/// </summary>
public sealed class PyramidStore : IAsyncDisposable, IWalFrameSink
{
    private const string LockFileName = "LOCK";
    private const int OverlapSyncBytes = 64 << 10;
    private const int RecycledWalFiles = 2;
    private const int MarkerValueBytes = 24; // cumulative bytes before the batch, batch time, time of the record before it

    private readonly string _directory;
    private readonly PyramidOptions _options;
    private readonly FileStream _lockFile;
    private readonly BlockCache _cache;
    private readonly object _queueLock = new();
    // Batches to commit, or (Batch null) an action that must run as leader between two commits.
    private readonly Queue<(WriteBatch? Batch, TaskCompletionSource Done, Action? Action)> _queue = new();
    private readonly List<WriteBatch> _groupBatches = [];
    private readonly List<TaskCompletionSource?> _groupWaiters = [];
    private readonly List<ReadOnlyMemory<byte>> _groupFrames = [];
    private readonly object _viewLock = new();
    private readonly SemaphoreSlim _flushGate = new(1, 1);
    private readonly SemaphoreSlim _compactionGate = new(1, 1);
    private readonly SemaphoreSlim _manifestGate = new(1, 1);
    private readonly SemaphoreSlim _flushSignal = new(0);
    private readonly SemaphoreSlim _compactionSignal = new(0);
    private readonly CancellationTokenSource _stop = new();
    // Recycle is false for files recovery replayed: memtables may still read records mapped from them.
    private readonly List<(long Number, string Path, ulong LastSequence, bool Recycle)> _retiredWals = [];
    private readonly List<string> _recyclableWals = [];
    private readonly byte[]?[] _compactionPointers = new byte[CompactionPicker.MaxLevels][];
    private readonly byte[] _keyScratch = new byte[WriteBatch.MaxKeyBytes + 1];
    private Task[] _background = [];

    // Leader-owned (or recovery-owned) write state.
    private WriteAheadLog _wal = null!;
    private ulong _sequence;
    private LogState _state;
    private Memtable _active = new();

    // Published under _viewLock.
    private List<Memtable> _immutables = [];
    private Memtable[] _immutablesNewestFirst = [];
    private StoreVersion _version;
    private bool _closed; // DisposeAsync dropped the store's pins: pinning now could revive unmapped segments
    private LogState _publishedState;
    private ulong _publishedSequence;
    private TaskCompletionSource _flushProgress = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Guarded by _queueLock.
    private bool _leaderActive;
    private ulong _reservedFirst;
    private ulong _reservedNext;
    private Exception? _fault;
    private bool _disposed;
    private TaskCompletionSource? _leaderIdle;

    // Guarded by _manifestGate.
    private ulong _lastFlushedSequence;
    private LogState _flushedState;
    private long _nextFileNumber;

    private long _userBytes;
    private long _walBytes;
    private long _flushBytes;
    private long _compactionBytes;
    private long _flushes;
    private long _compactions;

    private PyramidStore(string directory, PyramidOptions options, FileStream lockFile, BlockCache cache, StoreVersion version)
    {
        _directory = directory;
        _options = options;
        _lockFile = lockFile;
        _cache = cache;
        _version = version;
    }

    /// <summary>Directory holding the store's files.</summary>
    public string Directory => _directory;

    /// <summary>What the last <see cref="Open"/> recovered and dropped.</summary>
    public RecoveryReport Recovery { get; private set; } = null!;

    /// <summary>Lowest readable log offset.</summary>
    public ulong FirstOffset
    {
        get
        {
            lock (_viewLock)
            {
                return _publishedState.First;
            }
        }
    }

    /// <summary>One past the last log record: the offset the next append must use.</summary>
    public ulong NextOffset
    {
        get
        {
            lock (_viewLock)
            {
                return _publishedState.Next;
            }
        }
    }

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
            System.IO.Directory.CreateDirectory(directory);
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
        var opened = new List<Segment>();
        try
        {
            var manifest = ManifestFile.Read(options.Device, directory) ?? ManifestFile.CreateEmpty(options.Device, directory);
            options.Device.Delete(Path.Combine(directory, "MANIFEST.tmp"));
            var live = new HashSet<long>();
            var levels = new Segment[CompactionPicker.MaxLevels][];
            for (var level = 0; level < levels.Length; level++)
            {
                var list = new List<Segment>();
                if (level < manifest.Levels.Count)
                {
                    foreach (var metadata in manifest.Levels[level])
                    {
                        var segment = Segment.Open(options.Device, directory, metadata, cache);
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
            var store = new PyramidStore(directory, options, lockFile, cache, new StoreVersion(levels))
            {
                _nextFileNumber = maxFileNumber + 1,
                _lastFlushedSequence = manifest.LastFlushedSequence,
                _flushedState = manifest.LogState,
                _state = manifest.LogState,
                _sequence = manifest.LastFlushedSequence,
            };
            foreach (var segment in opened)
            {
                segment.Release(); // the version holds them now
            }

            opened.Clear();
            try
            {
                store.Recover(walFiles, orphans, started);
            }
            catch
            {
                store.ReleasePins(); // also the leases recovered memtables took on WAL mappings
                throw;
            }

            store.StartBackground();
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

    // ---------------------------------------------------------------- log space

    /// <summary>Appends records at the log's next offset; completes when they are durable per the durability mode.</summary>
    public async ValueTask AppendAsync(ReadOnlyMemory<LogEntry> records, CancellationToken cancellationToken = default)
    {
        if (records.IsEmpty)
        {
            throw new ArgumentException("an append needs at least one record", nameof(records));
        }

        var batch = new WriteBatch(WriteBatch.HeaderBytes + (records.Length * 32) + EstimatePayload(records.Span));
        try
        {
            foreach (var record in records.Span)
            {
                batch.Append(record.Epoch, record.Offset, record.Payload.Span);
            }

            await WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            batch.Dispose();
        }
    }

    /// <summary>Appends one record.</summary>
    public ValueTask AppendAsync(ulong epoch, ulong offset, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        AppendAsync(new[] { new LogEntry(epoch, offset, payload) }, cancellationToken);

    /// <summary>The record at <paramref name="offset"/>, or null outside [<see cref="FirstOffset"/>, <see cref="NextOffset"/>).</summary>
    public ValueTask<LogRecord?> ReadAsync(ulong offset, CancellationToken cancellationToken = default)
    {
        var snapshot = AcquireSnapshot();
        try
        {
            if (offset < snapshot.State.First || offset >= snapshot.State.Next)
            {
                return ValueTask.FromResult<LogRecord?>(null);
            }

            Span<byte> key = stackalloc byte[KeyCodec.LogKeyLength];
            KeyCodec.WriteLogKey(key, offset);
            if (!TryGetLog(snapshot, offset, key, out var value))
            {
                throw new PyramidCorruptionException(_directory, (long)offset, $"log record {offset} is missing although the log spans it");
            }

            return ValueTask.FromResult<LogRecord?>(new LogRecord(BinaryPrimitives.ReadUInt64LittleEndian(value), offset, value[8..].ToArray()));
        }
        finally
        {
            snapshot.Release();
        }
    }

    /// <summary>Scans records in [<paramref name="fromOffset"/>, <paramref name="toOffsetExclusive"/>) as of now.</summary>
    public LogCursor ReadLog(ulong fromOffset, ulong toOffsetExclusive = ulong.MaxValue) =>
        new(AcquireSnapshot(), fromOffset, toOffsetExclusive, _directory);

    /// <summary>Removes records at and after <paramref name="offset"/> (a Raft follower's divergent suffix).</summary>
    public ValueTask TruncateSuffixAsync(ulong offset, CancellationToken cancellationToken = default) =>
        TruncateAsync(WalOp.TruncateSuffix, offset, cancellationToken);

    /// <summary>Removes records below <paramref name="offset"/> (retention, snapshots). Past the end it empties the
    /// log, which then continues at <paramref name="offset"/>.</summary>
    public ValueTask TruncatePrefixAsync(ulong offset, CancellationToken cancellationToken = default) =>
        TruncateAsync(WalOp.TruncatePrefix, offset, cancellationToken);

    /// <summary>Applies age and size retention now (the background worker also does so periodically).</summary>
    public async ValueTask ApplyRetentionAsync(CancellationToken cancellationToken = default)
    {
        if (_options.LogRetentionAge is null && _options.LogRetentionBytes is null)
        {
            return;
        }

        var snapshot = AcquireSnapshot();
        ulong cut;
        try
        {
            var state = snapshot.State;
            cut = state.First;
            var markers = ReadMarkers(snapshot, state.First, state.Next);
            if (_options.LogRetentionAge is { } age)
            {
                var cutoff = _options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds() - (long)age.TotalMilliseconds;
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

            if (_options.LogRetentionBytes is { } limit && state.Cumulative - state.FirstCumulative > limit)
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
        }
        finally
        {
            snapshot.Release();
        }

        if (cut > FirstOffset)
        {
            await TruncatePrefixAsync(cut, cancellationToken).ConfigureAwait(false);
        }
    }

    // ---------------------------------------------------------------- key/value space

    public async ValueTask PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        var batch = new WriteBatch(WriteBatch.HeaderBytes + 16 + key.Length + value.Length);
        try
        {
            batch.Put(key.Span, value.Span);
            await WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            batch.Dispose();
        }
    }

    public async ValueTask DeleteAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken = default)
    {
        var batch = new WriteBatch(WriteBatch.HeaderBytes + 16 + key.Length);
        try
        {
            batch.Delete(key.Span);
            await WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            batch.Dispose();
        }
    }

    /// <summary>The value of <paramref name="key"/>, or null when absent or deleted.</summary>
    public ValueTask<byte[]?> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken = default)
    {
        if (key.IsEmpty || key.Length > WriteBatch.MaxKeyBytes)
        {
            throw new ArgumentException($"key must be 1..{WriteBatch.MaxKeyBytes} bytes, got {key.Length}", nameof(key));
        }

        var snapshot = AcquireSnapshot();
        try
        {
            var internalKey = new byte[key.Length + 1];
            internalKey[0] = KeyCodec.KvPrefix;
            key.Span.CopyTo(internalKey.AsSpan(1));
            return ValueTask.FromResult(TryGetKv(snapshot, internalKey, out var value) ? value : null);
        }
        finally
        {
            snapshot.Release();
        }
    }

    /// <summary>Live pairs with keys in [<paramref name="startInclusive"/>, <paramref name="endExclusive"/>) in key order.</summary>
    public KvCursor ScanKv(ReadOnlySpan<byte> startInclusive, ReadOnlySpan<byte> endExclusive)
    {
        var end = new byte[endExclusive.Length + 1];
        end[0] = KeyCodec.KvPrefix;
        endExclusive.CopyTo(end.AsSpan(1));
        return new KvCursor(AcquireSnapshot(), startInclusive, end);
    }

    /// <summary>Live pairs whose key starts with <paramref name="prefix"/>, in key order.</summary>
    public KvCursor ScanKvPrefix(ReadOnlySpan<byte> prefix)
    {
        var end = new byte[prefix.Length + 1];
        end[0] = KeyCodec.KvPrefix;
        prefix.CopyTo(end.AsSpan(1));
        var length = end.Length;
        while (length > 1 && end[length - 1] == 0xFF)
        {
            length--;
        }

        if (length == 1)
        {
            end = [KeyCodec.KvPrefix + 1];
        }
        else
        {
            end = end[..length];
            end[^1]++;
        }

        return new KvCursor(AcquireSnapshot(), prefix, end);
    }

    // ---------------------------------------------------------------- batches, flush, compaction, stats

    /// <summary>Commits <paramref name="batch"/> atomically (group commit with concurrent writers).
    /// The batch must not be changed until the returned task completes.</summary>
    public ValueTask WriteAsync(WriteBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return ValueTask.CompletedTask;
        }

        TaskCompletionSource? done = null;
        lock (_queueLock)
        {
            ThrowIfUnavailable();
            Reserve(batch);
            if (_leaderActive)
            {
                done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _queue.Enqueue((batch, done, null));
            }
            else
            {
                _leaderActive = true;
            }
        }

        return done is not null ? new ValueTask(done.Task) : LeadAsync(batch);
    }

    /// <summary>Swaps the memtable out and writes every pending memtable to segments.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        lock (_queueLock)
        {
            ThrowIfUnavailable();
        }

        await RunExclusiveLeaderAsync(() => SwapMemtable(), cancellationToken).ConfigureAwait(false);
        await FlushImmutablesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Flushes, then merges every segment into one sorted run (dropping dead data and tombstones).</summary>
    public async Task CompactAsync(CancellationToken cancellationToken = default)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        await _compactionGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await DropRetiredLogSegmentsAsync().ConfigureAwait(false);
            var version = AcquireVersion();
            try
            {
                if (CompactionPicker.PickFull(version.Levels) is { } job)
                {
                    await RunCompactionAsync(job, version, limiter: null).ConfigureAwait(false);
                }
            }
            finally
            {
                version.Release();
            }
        }
        finally
        {
            _compactionGate.Release();
        }
    }

    public PyramidStatistics GetStatistics()
    {
        var version = AcquireVersion();
        try
        {
            var levels = new List<LevelStatistics>();
            for (var level = 0; level < version.Levels.Length; level++)
            {
                long bytes = 0, entries = 0, logRecords = 0;
                foreach (var segment in version.Levels[level])
                {
                    bytes += segment.Metadata.SizeBytes;
                    entries += segment.Metadata.EntryCount;
                    logRecords += segment.Metadata.LogCount;
                }

                levels.Add(new LevelStatistics(level, version.Levels[level].Length, bytes, entries, logRecords));
            }

            long memtableBytes;
            int immutables;
            LogState state;
            lock (_viewLock)
            {
                memtableBytes = _active.ApproximateBytes;
                foreach (var memtable in _immutables)
                {
                    memtableBytes += memtable.ApproximateBytes;
                }

                immutables = _immutables.Count;
                state = _publishedState;
            }

            return new PyramidStatistics
            {
                Levels = levels,
                MemtableBytes = memtableBytes,
                ImmutableMemtables = immutables,
                BlockCacheBytes = _cache.SizeBytes,
                BlockCacheHits = _cache.Hits,
                BlockCacheMisses = _cache.Misses,
                UserBytesWritten = Interlocked.Read(ref _userBytes),
                WalBytesWritten = Interlocked.Read(ref _walBytes),
                FlushBytesWritten = Interlocked.Read(ref _flushBytes),
                CompactionBytesWritten = Interlocked.Read(ref _compactionBytes),
                Flushes = Interlocked.Read(ref _flushes),
                Compactions = Interlocked.Read(ref _compactions),
                LogFirstOffset = state.First,
                LogNextOffset = state.Next,
            };
        }
        finally
        {
            version.Release();
        }
    }

    /// <summary>Stops background work and closes files. Acknowledged writes stay in the WAL and are replayed on open.</summary>
    public async ValueTask DisposeAsync()
    {
        Task? idle = null;
        lock (_queueLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_leaderActive)
            {
                _leaderIdle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                idle = _leaderIdle.Task;
            }
        }

        if (idle is not null)
        {
            await idle.ConfigureAwait(false);
        }

        _stop.Cancel();
        foreach (var task in _background)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Expected on shutdown.
            }
        }

        // Drain any flush a worker left mid-way so nothing waits on a gate we no longer serve.
        await _flushGate.WaitAsync().ConfigureAwait(false);
        await _compactionGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_fault is null && _options.Durability != DurabilityMode.PerBatch)
            {
                _wal.Sync();
            }
        }
        finally
        {
            _wal.Dispose();
            ReleasePins();
            _lockFile.Dispose();
            _stop.Dispose();
        }
    }

    /// <summary>Drops the store's own pins; open cursors keep theirs until they are disposed.</summary>
    private void ReleasePins()
    {
        StoreVersion version;
        Memtable[] memtables;
        lock (_viewLock)
        {
            _closed = true;
            version = _version;
            memtables = [_active, .. _immutables];
        }

        version.Release();
        foreach (var memtable in memtables)
        {
            memtable.Release();
        }
    }

    // ---------------------------------------------------------------- commit pipeline

    private static int EstimatePayload(ReadOnlySpan<LogEntry> records)
    {
        long total = 0;
        foreach (var record in records)
        {
            total += record.Payload.Length;
        }

        return (int)Math.Min(total, 1 << 29);
    }

    private void ThrowIfUnavailable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_fault is not null)
        {
            throw new IOException(
                $"the store at '{_directory}' stopped accepting writes after a failure ({_fault.Message}); acknowledged data is intact on disk — reopen the store",
                _fault);
        }
    }

    /// <summary>Validates a batch against the log as it will be once every queued batch commits.</summary>
    private void Reserve(WriteBatch batch)
    {
        if (batch.LogCount == 0)
        {
            return;
        }

        var first = batch.FirstLogOffset;
        if (_reservedFirst == _reservedNext)
        {
            if (first < _reservedNext)
            {
                throw new ArgumentException($"append at offset {first} is below the log's next offset {_reservedNext}", nameof(batch));
            }

            _reservedFirst = first;
        }
        else if (first != _reservedNext)
        {
            throw new ArgumentException($"append at offset {first} but the log's next offset is {_reservedNext}; offsets are dense", nameof(batch));
        }

        if (first + (ulong)batch.LogCount < first || first + (ulong)batch.LogCount == ulong.MaxValue)
        {
            throw new ArgumentException("log offsets would overflow", nameof(batch));
        }

        _reservedNext = first + (ulong)batch.LogCount;
    }

    private async ValueTask TruncateAsync(WalOp op, ulong offset, CancellationToken cancellationToken)
    {
        var batch = new WriteBatch(64);
        try
        {
            TaskCompletionSource? done = null;
            lock (_queueLock)
            {
                ThrowIfUnavailable();
                if (op == WalOp.TruncateSuffix)
                {
                    if (offset < _reservedFirst || offset > _reservedNext)
                    {
                        throw new ArgumentOutOfRangeException(nameof(offset), offset,
                            $"truncate-suffix offset must lie in the log [{_reservedFirst}, {_reservedNext}]");
                    }

                    if (offset == _reservedNext)
                    {
                        return;
                    }

                    _reservedNext = offset;
                }
                else
                {
                    if (offset <= _reservedFirst)
                    {
                        return;
                    }

                    _reservedFirst = offset;
                    _reservedNext = Math.Max(_reservedNext, offset);
                }

                batch.AddTruncation(op, offset);
                if (_leaderActive)
                {
                    done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _queue.Enqueue((batch, done, null));
                }
                else
                {
                    _leaderActive = true;
                }
            }

            if (done is not null)
            {
                await done.Task.ConfigureAwait(false);
            }
            else
            {
                await LeadAsync(batch).ConfigureAwait(false);
            }
        }
        finally
        {
            batch.Dispose();
        }
    }

    /// <summary>Runs <paramref name="action"/> as the commit leader, with no commit in flight: at once when
    /// no one leads, else queued behind the writes already waiting (so it cannot starve under load).</summary>
    private async Task RunExclusiveLeaderAsync(Action action, CancellationToken cancellationToken)
    {
        TaskCompletionSource? done = null;
        lock (_queueLock)
        {
            ThrowIfUnavailable();
            if (_leaderActive)
            {
                done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _queue.Enqueue((null, done, action));
            }
            else
            {
                _leaderActive = true;
            }
        }

        if (done is not null)
        {
            await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        try
        {
            action();
        }
        catch (Exception e)
        {
            Fault(e);
            throw;
        }
        finally
        {
            ReleaseLeadership(drainInline: true);
        }
    }

    /// <summary>Commits the caller's batch as leader; writers that queued meanwhile get a pool-thread leader,
    /// so a caller's latency is its own commit, never other writers'.</summary>
    private async ValueTask LeadAsync(WriteBatch own)
    {
        _groupBatches.Clear();
        _groupWaiters.Clear();
        _groupBatches.Add(own);
        _groupWaiters.Add(null);
        try
        {
            await EnsureRoomAsync().ConfigureAwait(false);
            CommitGroup();
        }
        catch (Exception e)
        {
            Fault(e);
            _groupBatches.Clear();
            _groupWaiters.Clear();
            ReleaseLeadership(drainInline: false);
            throw;
        }

        _groupBatches.Clear();
        _groupWaiters.Clear();
        ReleaseLeadership(drainInline: true);
    }

    private void ReleaseLeadership(bool drainInline)
    {
        var handOver = false;
        lock (_queueLock)
        {
            if (_fault is not null)
            {
                while (_queue.TryDequeue(out var next))
                {
                    next.Done.TrySetException(new IOException("the store stopped accepting writes after a failure", _fault));
                }
            }
            else if (drainInline && _queue.Count > 0)
            {
                handOver = true;
            }

            if (!handOver)
            {
                _leaderActive = false;
                _leaderIdle?.TrySetResult();
            }
        }

        if (handOver)
        {
            _ = Task.Run(LeadQueuedAsync);
        }
    }

    /// <summary>Leads queued writers group after group (and queued actions in order) until the queue is empty.</summary>
    private async Task LeadQueuedAsync()
    {
        TaskCompletionSource? actionDone = null;
        try
        {
            while (true)
            {
                Action? action = null;
                lock (_queueLock)
                {
                    if (_queue.Count == 0)
                    {
                        _leaderActive = false;
                        _leaderIdle?.TrySetResult();
                        return;
                    }

                    while (_queue.TryPeek(out var next))
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
                    }
                }

                if (action is not null)
                {
                    action();
                    actionDone!.TrySetResult();
                    actionDone = null;
                    continue;
                }

                await EnsureRoomAsync().ConfigureAwait(false);
                CommitGroup();
                foreach (var waiter in _groupWaiters)
                {
                    waiter?.TrySetResult();
                }

                _groupBatches.Clear();
                _groupWaiters.Clear();
            }
        }
        catch (Exception e)
        {
            Fault(e);
            actionDone?.TrySetException(e);
            foreach (var waiter in _groupWaiters)
            {
                waiter?.TrySetException(e);
            }

            _groupBatches.Clear();
            _groupWaiters.Clear();
            ReleaseLeadership(drainInline: false);
        }
    }

    private void Fault(Exception e)
    {
        lock (_queueLock)
        {
            _fault ??= e;
        }
    }

    /// <summary>Writes the group's frames with one write and (per mode) one fdatasync, then applies them.</summary>
    private void CommitGroup()
    {
        var now = _options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        _groupFrames.Clear();
        long total = 0;
        var sequence = _sequence;
        foreach (var batch in _groupBatches)
        {
            batch.Seal(++sequence, now, _wal.FileNumber);
            _groupFrames.Add(batch.Frame);
            total += batch.Frame.Length;
        }

        _wal.Write(_groupFrames, total);
        _wal.LastSequence = sequence;

        // A large group is applied to the memtable while its fdatasync runs on another thread. Nothing
        // applied is visible before the publish below, which happens only after the sync succeeded.
        Task? sync = null;
        if (_options.Durability == DurabilityMode.PerBatch)
        {
            if (total >= OverlapSyncBytes)
            {
                sync = Task.Run(_wal.SyncOrUndo);
            }
            else
            {
                _wal.SyncOrUndo();
            }
        }

        long userBytes = 0;
        foreach (var batch in _groupBatches)
        {
            var frame = batch.FrameSpan;
            ApplyFrame(BinaryPrimitives.ReadUInt64LittleEndian(frame[8..]), now, batch.Count, frame[WriteBatch.HeaderBytes..], default, 0);
            userBytes += frame.Length - WriteBatch.HeaderBytes;
        }

        sync?.GetAwaiter().GetResult();

        _groupFrames.Clear();
        Interlocked.Add(ref _walBytes, total);
        Interlocked.Add(ref _userBytes, userBytes);
        lock (_viewLock)
        {
            _publishedState = _state;
            _publishedSequence = _sequence;
        }
    }

    /// <summary>Swaps a full memtable out, first waiting (back-pressure) while too many await flush.</summary>
    private async ValueTask EnsureRoomAsync()
    {
        if (_active.ApproximateBytes < _options.MemtableBytes)
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
                await progress.ConfigureAwait(false);
            }
            else
            {
                await FlushImmutablesAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }

        SwapMemtable();
    }

    /// <summary>Freezes the active memtable and starts a new WAL file for its successor. Leader only.</summary>
    private void SwapMemtable()
    {
        if (_active.IsEmpty)
        {
            return;
        }

        _wal.Complete(); // a file is complete on disk before its successor exists, so only the newest can be torn
        string? recycle;
        lock (_viewLock)
        {
            recycle = _recyclableWals.Count > 0 ? _recyclableWals[^1] : null;
            if (recycle is not null)
            {
                _recyclableWals.RemoveAt(_recyclableWals.Count - 1);
            }
        }

        var next = WriteAheadLog.Create(_options.Device, _directory, Interlocked.Increment(ref _nextFileNumber) - 1, recycle);
        lock (_viewLock)
        {
            _retiredWals.Add((_wal.FileNumber, _wal.Path, _wal.LastSequence, true));
        }

        _wal.Dispose();
        _wal = next;
        FreezeActive();
    }

    private void FreezeActive()
    {
        var frozen = _active;
        frozen.FrozenState = _state;
        frozen.MaxSequence = _sequence;
        lock (_viewLock)
        {
            _immutables = [.. _immutables, frozen];
            _immutablesNewestFirst = [.. Enumerable.Reverse(_immutables)];
            _active = new Memtable();
        }

        _flushSignal.Release();
    }

    // ---------------------------------------------------------------- applying frames (live and recovery)

    void IWalFrameSink.ApplyFrame(ulong sequence, long timestampMs, int opCount, ReadOnlySpan<byte> ops, ReadOnlyMemory<byte> source, int opsPosition)
    {
        ApplyFrame(sequence, timestampMs, opCount, ops, source, opsPosition);
        if (_active.ApproximateBytes >= _options.MemtableBytes)
        {
            FreezeActive(); // flushed once recovery is done; its WAL files stay until then
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot on recovery: skip tier-0 code
    /// <param name="source">When replaying, the mapped WAL holding <paramref name="ops"/>: log records are
    /// referenced there instead of copied. Empty on the live path.</param>
    private void ApplyFrame(ulong sequence, long timestampMs, int opCount, ReadOnlySpan<byte> ops, ReadOnlyMemory<byte> source, int opsPosition)
    {
        var memtable = _active;
        var at = 0;
        var appended = false;
        for (var i = 0; i < opCount; i++)
        {
            switch ((WalOp)ops[at])
            {
                case WalOp.LogAppend:
                    {
                        var first = BinaryPrimitives.ReadUInt64LittleEndian(ops[(at + 1)..]);
                        var count = BinaryPrimitives.ReadInt32LittleEndian(ops[(at + 9)..]);
                        at += 13;
                        if (!appended)
                        {
                            BeginAppend(first, timestampMs, sequence);
                            appended = true;
                        }

                        for (var k = 0; k < count; k++)
                        {
                            var offset = first + (ulong)k;
                            var length = BinaryPrimitives.ReadInt32LittleEndian(ops[at..]);
                            if (source.IsEmpty)
                            {
                                memtable.AppendLog(BinaryPrimitives.ReadUInt64LittleEndian(ops[(at + 4)..]), offset, ops.Slice(at + 12, length), sequence);
                            }
                            else
                            {
                                memtable.AppendLogReference(offset, source, opsPosition + at, length, sequence);
                            }

                            _state.Next = offset + 1;
                            _state.Cumulative += length;
                            at += 12 + length;
                        }

                        break;
                    }

                case WalOp.Put:
                    {
                        var keyLength = BinaryPrimitives.ReadInt32LittleEndian(ops[(at + 1)..]);
                        var valueLength = BinaryPrimitives.ReadInt32LittleEndian(ops[(at + 5)..]);
                        memtable.Put(KvKey(ops.Slice(at + 9, keyLength)), ops.Slice(at + 9 + keyLength, valueLength), tombstone: false, sequence);
                        at += 9 + keyLength + valueLength;
                        break;
                    }

                case WalOp.Delete:
                    {
                        var keyLength = BinaryPrimitives.ReadInt32LittleEndian(ops[(at + 1)..]);
                        memtable.Put(KvKey(ops.Slice(at + 5, keyLength)), [], tombstone: true, sequence);
                        at += 5 + keyLength;
                        break;
                    }

                case WalOp.TruncateSuffix:
                    ApplyTruncateSuffix(BinaryPrimitives.ReadUInt64LittleEndian(ops[(at + 1)..]), sequence);
                    at += 9;
                    break;

                case WalOp.TruncatePrefix:
                    ApplyTruncatePrefix(BinaryPrimitives.ReadUInt64LittleEndian(ops[(at + 1)..]), sequence);
                    at += 9;
                    break;

                default:
                    throw new InvalidDataException($"unknown WAL operation {ops[at]} in frame {sequence}");
            }
        }

        if (appended)
        {
            _state.LastAppendTimeMs = timestampMs;
        }

        _sequence = sequence;
        memtable.MaxSequence = sequence;
    }

    private ReadOnlySpan<byte> KvKey(ReadOnlySpan<byte> userKey)
    {
        _keyScratch[0] = KeyCodec.KvPrefix;
        userKey.CopyTo(_keyScratch.AsSpan(1));
        return _keyScratch.AsSpan(0, userKey.Length + 1);
    }

    /// <summary>Adopts the first offset of an empty log and drops a retention marker when one is due.
    /// Deterministic in (state, frame time), so replay recreates exactly the same markers.</summary>
    private void BeginAppend(ulong offset, long timestampMs, ulong sequence)
    {
        if (_state.IsEmpty && offset != _state.Next)
        {
            _state.First = offset;
            _state.Next = offset;
            _state.FirstCumulative = _state.Cumulative;
        }

        if (_state.LastMarkerTimeMs == long.MinValue
            || _state.Cumulative - _state.LastMarkerCumulative >= _options.RetentionMarkerBytes
            || timestampMs - _state.LastMarkerTimeMs >= (long)_options.RetentionMarkerInterval.TotalMilliseconds)
        {
            Span<byte> key = stackalloc byte[KeyCodec.MarkerKeyLength];
            Span<byte> value = stackalloc byte[MarkerValueBytes];
            KeyCodec.WriteMarkerKey(key, offset);
            BinaryPrimitives.WriteInt64LittleEndian(value, _state.Cumulative);
            BinaryPrimitives.WriteInt64LittleEndian(value[8..], timestampMs);
            BinaryPrimitives.WriteInt64LittleEndian(value[16..], _state.LastAppendTimeMs);
            _active.Put(key, value, tombstone: false, sequence);
            _state.LastMarkerCumulative = _state.Cumulative;
            _state.LastMarkerTimeMs = timestampMs;
        }
    }

    private void ApplyTruncateSuffix(ulong offset, ulong sequence)
    {
        if (offset >= _state.Next)
        {
            return;
        }

        var snapshot = WriterSnapshot(sequence);
        List<(ulong Offset, long Cumulative, long PreviousAppendTime)> markers;
        try
        {
            markers = ReadMarkers(snapshot, _state.First, ulong.MaxValue);
        }
        finally
        {
            snapshot.Release();
        }

        var cumulative = _state.FirstCumulative;
        Span<byte> key = stackalloc byte[KeyCodec.MarkerKeyLength];
        foreach (var marker in markers)
        {
            if (marker.Offset >= offset)
            {
                KeyCodec.WriteMarkerKey(key, marker.Offset);
                _active.Put(key, [], tombstone: true, sequence);
            }
            else
            {
                cumulative = Math.Max(cumulative, marker.Cumulative);
            }
        }

        _state.Next = Math.Max(offset, _state.First);
        _state.Cumulative = cumulative;
        _state.LastMarkerTimeMs = long.MinValue;
    }

    private void ApplyTruncatePrefix(ulong offset, ulong sequence)
    {
        if (offset <= _state.First)
        {
            return;
        }

        if (offset >= _state.Next)
        {
            _state.First = offset;
            _state.Next = offset;
            _state.FirstCumulative = _state.Cumulative;
            _state.LastMarkerTimeMs = long.MinValue;
            return;
        }

        var snapshot = WriterSnapshot(sequence);
        try
        {
            foreach (var marker in ReadMarkers(snapshot, _state.First, offset + 1))
            {
                _state.FirstCumulative = Math.Max(_state.FirstCumulative, marker.Cumulative);
            }
        }
        finally
        {
            snapshot.Release();
        }

        _state.First = offset;
    }

    private static List<(ulong Offset, long Cumulative, long PreviousAppendTime)> ReadMarkers(Snapshot snapshot, ulong from, ulong toExclusive)
    {
        var result = new List<(ulong, long, long)>();
        Span<byte> start = stackalloc byte[KeyCodec.MarkerKeyLength];
        Span<byte> end = stackalloc byte[KeyCodec.MarkerKeyLength];
        KeyCodec.WriteMarkerKey(start, from);
        KeyCodec.WriteMarkerKey(end, toExclusive);
        var iterator = snapshot.CreateIterator(start, toExclusive == ulong.MaxValue ? [KeyCodec.InternalPrefix, KeyCodec.MarkerTag + 1] : end,
            includeLog: false, includeKv: true, logEnd: 0);
        while (iterator.Valid && KeyCodec.IsMarkerKey(iterator.Key))
        {
            var offset = KeyCodec.ReadMarkerOffset(iterator.Key);
            if (offset >= toExclusive)
            {
                break;
            }

            if (!iterator.IsTombstone)
            {
                result.Add((offset, BinaryPrimitives.ReadInt64LittleEndian(iterator.Value), BinaryPrimitives.ReadInt64LittleEndian(iterator.Value[16..])));
            }

            iterator.Next();
        }

        return result;
    }

    // ---------------------------------------------------------------- reads

    private Snapshot AcquireSnapshot()
    {
        lock (_viewLock)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            return new Snapshot(_active, _immutablesNewestFirst, _version, _publishedState, _publishedSequence);
        }
    }

    /// <summary>The writer's own view: everything applied so far, including the frame being applied.</summary>
    private Snapshot WriterSnapshot(ulong sequence)
    {
        lock (_viewLock)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            return new Snapshot(_active, _immutablesNewestFirst, _version, _state, sequence);
        }
    }

    private StoreVersion AcquireVersion()
    {
        lock (_viewLock)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            _version.AddReference();
            return _version;
        }
    }

    private static bool TryGetLog(Snapshot snapshot, ulong offset, ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        if (snapshot.Active.TryGetLog(offset, snapshot.Sequence, out value))
        {
            return true;
        }

        foreach (var memtable in snapshot.Immutables)
        {
            if (memtable.TryGetLog(offset, snapshot.Sequence, out value))
            {
                return true;
            }
        }

        return TryGetFromSegments(snapshot.Version, key, out _, out value);
    }

    private static bool TryGetKv(Snapshot snapshot, byte[] key, out byte[]? value)
    {
        value = null;
        var version = snapshot.Active.Kv.Find(key, snapshot.Sequence);
        if (version is null)
        {
            foreach (var memtable in snapshot.Immutables)
            {
                version = memtable.Kv.Find(key, snapshot.Sequence);
                if (version is not null)
                {
                    break;
                }
            }
        }

        if (version is not null)
        {
            value = version.Value;
            return value is not null;
        }

        if (TryGetFromSegments(snapshot.Version, key, out var kind, out var found) && kind == SegmentFormat.KindPut)
        {
            value = found.ToArray();
            return true;
        }

        return false;
    }

    private static bool TryGetFromSegments(StoreVersion version, ReadOnlySpan<byte> key, out byte kind, out ReadOnlySpan<byte> value)
    {
        var hash = BloomFilter.Hash(key);
        foreach (var segment in version.Levels[0])
        {
            if (segment.TryGet(key, hash, out kind, out value))
            {
                return true;
            }
        }

        for (var level = 1; level < version.Levels.Length; level++)
        {
            var segments = version.Levels[level];
            int low = 0, high = segments.Length - 1;
            while (low <= high)
            {
                var mid = (low + high) >>> 1;
                var segment = segments[mid];
                if (segment.Metadata.MaxKey.AsSpan().SequenceCompareTo(key) < 0)
                {
                    low = mid + 1;
                }
                else if (segment.Metadata.MinKey.AsSpan().SequenceCompareTo(key) > 0)
                {
                    high = mid - 1;
                }
                else
                {
                    if (segment.TryGet(key, hash, out kind, out value))
                    {
                        return true;
                    }

                    break;
                }
            }
        }

        kind = 0;
        value = default;
        return false;
    }

    // ---------------------------------------------------------------- recovery

    private void StartBackground()
    {
        if (!_options.BackgroundWork)
        {
            return;
        }

        var background = new List<Task> { Task.Run(FlushLoopAsync), Task.Run(CompactionLoopAsync) };
        if (_options.Durability == DurabilityMode.Interval)
        {
            background.Add(Task.Run(SyncLoopAsync));
        }

        _background = [.. background];
        if (_immutables.Count > 0)
        {
            _flushSignal.Release();
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
            var replay = WalReader.Replay(_options.Device, path, newest, _lastFlushedSequence, ref previous, this);
            frames += replay.Frames;
            bytes += replay.ValidLength;
            if (replay.DroppedBytes > 0)
            {
                tornFile = path;
                tornAt = replay.ValidLength;
                dropped = replay.DroppedBytes;
            }

            // Cut a torn, preallocated or stale tail so the file ends at its last frame once it is no longer the newest.
            if (replay.ValidLength >= WriteAheadLog.HeaderBytes && replay.ValidLength < _options.Device.GetLength(path))
            {
                using var file = _options.Device.Open(path, FileMode.Open);
                file.SetLength(replay.ValidLength);
                file.SyncData();
            }

            if (replay.ValidLength < WriteAheadLog.HeaderBytes)
            {
                _options.Device.Delete(path); // torn before its header was complete: it never held a frame
            }
            else
            {
                _retiredWals.Add((number, path, replay.LastSequence, false));
            }
        }

        _sequence = Math.Max(_sequence, previous);
        _wal = WriteAheadLog.Create(_options.Device, _directory, Interlocked.Increment(ref _nextFileNumber) - 1);
        _wal.LastSequence = _sequence;
        _publishedState = _state;
        _publishedSequence = _sequence;
        _reservedFirst = _state.First;
        _reservedNext = _state.Next;
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
                    _options.Device.Delete(wal.Path);
                }

                return true;
            });
        }
    }

    // ---------------------------------------------------------------- flush

    private async Task FlushLoopAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            await _flushSignal.WaitAsync(token).ConfigureAwait(false);
            try
            {
                await FlushImmutablesAsync(token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Fault(e);
                TaskCompletionSource progress;
                lock (_viewLock)
                {
                    progress = _flushProgress;
                }

                progress.TrySetException(e);
                return;
            }
        }
    }

    private async Task FlushImmutablesAsync(CancellationToken cancellationToken)
    {
        await _flushGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
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

                await FlushOneAsync(oldest).ConfigureAwait(false);
            }
        }
        finally
        {
            _flushGate.Release();
        }
    }

    private async Task FlushOneAsync(Memtable memtable)
    {
        var outputs = new List<SegmentMetadata>();
        try
        {
            var log = WriteLogSegment(memtable);
            if (log is not null)
            {
                outputs.Add(log);
            }

            var kv = WriteKvSegment(memtable);
            if (kv is not null)
            {
                outputs.Add(kv);
            }
        }
        catch
        {
            foreach (var output in outputs)
            {
                _options.Device.Delete(Path.Combine(_directory, SegmentFormat.FileName(output.FileNumber)));
            }

            throw;
        }

        var opened = new List<Segment>();
        foreach (var output in outputs)
        {
            opened.Add(Segment.Open(_options.Device, _directory, output, _cache));
            Interlocked.Add(ref _flushBytes, output.SizeBytes);
        }

        await _manifestGate.WaitAsync().ConfigureAwait(false);
        try
        {
            var current = _version.Levels;
            var levels = (Segment[][])current.Clone();
            levels[0] = [.. Enumerable.Reverse(opened), .. current[0]];
            InstallVersion(levels, memtable.MaxSequence, memtable.FrozenState, () =>
            {
                _immutables = _immutables.Where(m => !ReferenceEquals(m, memtable)).ToList();
                _immutablesNewestFirst = [.. Enumerable.Reverse(_immutables)];
            });
            memtable.Release(); // unpublished: the store's pin goes, snapshots still reading it keep theirs
            foreach (var segment in opened)
            {
                segment.Release();
            }
        }
        finally
        {
            _manifestGate.Release();
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

    private SegmentMetadata? WriteLogSegment(Memtable memtable)
    {
        var state = memtable.FrozenState;
        if (memtable.Runs.Length == 0 || state.First >= state.Next)
        {
            return null;
        }

        var iterator = new MemtableLogIterator(memtable, ulong.MaxValue, state.Next);
        Span<byte> start = stackalloc byte[KeyCodec.LogKeyLength];
        KeyCodec.WriteLogKey(start, state.First);
        iterator.Seek(start);
        if (!iterator.Valid)
        {
            return null;
        }

        using var writer = new SegmentWriter(_options.Device, _directory, Interlocked.Increment(ref _nextFileNumber) - 1, _options.BlockBytes, _options.BloomBitsPerKey, null);
        while (iterator.Valid)
        {
            writer.Add(SegmentFormat.KindPut, iterator.Key, iterator.Value);
            iterator.Next();
        }

        return writer.Finish();
    }

    private SegmentMetadata? WriteKvSegment(Memtable memtable)
    {
        var node = memtable.Kv.First;
        if (node is null)
        {
            return null;
        }

        using var writer = new SegmentWriter(_options.Device, _directory, Interlocked.Increment(ref _nextFileNumber) - 1, _options.BlockBytes, _options.BloomBitsPerKey, null);
        for (; node is not null; node = node.NextNode)
        {
            var version = node.Latest!;
            writer.Add(version.Value is null ? SegmentFormat.KindDelete : SegmentFormat.KindPut, node.Key, version.Value);
        }

        return writer.Finish();
    }

    /// <summary>Persists <paramref name="levels"/> in a new manifest, then publishes it. Caller holds _manifestGate.</summary>
    private void InstallVersion(Segment[][] levels, ulong flushedSequence, LogState flushedState, Action? underViewLock, IEnumerable<Segment>? retired = null)
    {
        var manifestLevels = new List<IReadOnlyList<SegmentMetadata>>(levels.Length);
        foreach (var level in levels)
        {
            manifestLevels.Add(level.Select(s => s.Metadata).ToList());
        }

        ManifestFile.Write(_options.Device, _directory, new ManifestData(Interlocked.Read(ref _nextFileNumber), flushedSequence, flushedState, manifestLevels));
        _lastFlushedSequence = flushedSequence;
        _flushedState = flushedState;
        foreach (var segment in retired ?? [])
        {
            segment.MarkObsolete(); // deleted once the last snapshot using it lets go
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

    // ---------------------------------------------------------------- compaction and retention

    private async Task CompactionLoopAsync()
    {
        var token = _stop.Token;
        var limiter = _options.CompactionBytesPerSecond > 0 ? new RateLimiter(_options.CompactionBytesPerSecond) : null;
        while (!token.IsCancellationRequested)
        {
            await _compactionSignal.WaitAsync(_options.RetentionCheckInterval, token).ConfigureAwait(false);
            await _compactionGate.WaitAsync(token).ConfigureAwait(false);
            try
            {
                await ApplyRetentionAsync(token).ConfigureAwait(false);
                await DropRetiredLogSegmentsAsync().ConfigureAwait(false);
                while (!token.IsCancellationRequested)
                {
                    var version = AcquireVersion();
                    try
                    {
                        var job = CompactionPicker.Pick(version.Levels, _options, _compactionPointers);
                        if (job is null)
                        {
                            break;
                        }

                        await RunCompactionAsync(job, version, limiter).ConfigureAwait(false);
                    }
                    finally
                    {
                        version.Release();
                    }
                }
            }
            catch (Exception e) when (e is not OperationCanceledException and not ObjectDisposedException)
            {
                Fault(e);
                return;
            }
            finally
            {
                _compactionGate.Release();
            }
        }
    }

    private async Task RunCompactionAsync(CompactionJob job, StoreVersion version, RateLimiter? limiter)
    {
        var outputs = job.Inputs.Count == 0
            ? []
            : await Task.Run(() => Compactor.Merge(job, version.Levels, _directory, _options, FirstOffset,
                () => Interlocked.Increment(ref _nextFileNumber) - 1, limiter, out _)).ConfigureAwait(false);
        var opened = new List<Segment>();
        foreach (var output in outputs)
        {
            opened.Add(Segment.Open(_options.Device, _directory, output, _cache));
            Interlocked.Add(ref _compactionBytes, output.SizeBytes);
        }

        await _manifestGate.WaitAsync().ConfigureAwait(false);
        try
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

            InstallVersion(levels, _lastFlushedSequence, _flushedState, null, job.Inputs);
            foreach (var segment in opened)
            {
                segment.Release();
            }
        }
        finally
        {
            _manifestGate.Release();
        }

        Interlocked.Increment(ref _compactions);
    }

    /// <summary>Deletes whole log segments that lie entirely below the first offset (no rewrite needed).</summary>
    private async Task DropRetiredLogSegmentsAsync()
    {
        var first = FirstOffset;
        await _manifestGate.WaitAsync().ConfigureAwait(false);
        try
        {
            var retired = new List<Segment>();
            var levels = new Segment[_version.Levels.Length][];
            for (var level = 0; level < levels.Length; level++)
            {
                var kept = new List<Segment>();
                foreach (var segment in _version.Levels[level])
                {
                    var metadata = segment.Metadata;
                    if (KeyCodec.IsLogKey(metadata.MinKey) && KeyCodec.IsLogKey(metadata.MaxKey) && KeyCodec.ReadLogOffset(metadata.MaxKey) < first)
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

            if (retired.Count == 0)
            {
                return;
            }

            InstallVersion(levels, _lastFlushedSequence, _flushedState, null, retired);
        }
        finally
        {
            _manifestGate.Release();
        }
    }

    private async Task SyncLoopAsync()
    {
        var token = _stop.Token;
        using var timer = new PeriodicTimer(_options.SyncInterval);
        while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
        {
            try
            {
                Volatile.Read(ref _wal).Sync();
            }
            catch (IOException e)
            {
                Fault(e); // acknowledged writes may not be durable: stop accepting more (an escaping error also kept DisposeAsync from closing)
                return;
            }
        }
    }
}
