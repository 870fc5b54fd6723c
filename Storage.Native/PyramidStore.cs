using System.Buffers.Binary;
using System.Collections.Concurrent;
using Pyralog.Storage.Native.Compaction;
using Pyralog.Storage.Native.Keys;
using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Memtables;
using Pyralog.Storage.Native.Segments;
using Pyralog.Storage.Native.Wal;

namespace Pyralog.Storage.Native;

/// <summary>
/// The Pyramid LSM engine: many logs, each addressed by (log id, dense offset) with an epoch per record,
/// and a key/value space, all on one write-ahead log, memtable and set of leveled segments. One store
/// serves a whole silo: every partition replica's Raft log is a log id inside it, so one fdatasync
/// carries the appends of every log (group commit across logs), and memory is bounded by the options,
/// not by the number of logs.
/// <para>The type is split by job, as RocksDB splits its DB: this file holds the public surface;
/// PyramidStore.Open.cs opens and recovers; PyramidStore.Commit.cs is the commit loop (the only writer of the
/// WAL and the memtable); PyramidStore.Apply.cs applies frames (live and on replay); PyramidStore.Reads.cs
/// serves reads from views; PyramidStore.Flush.cs and PyramidStore.Compaction.cs are the background workers.</para>
/// <para>Threads: callers only validate, enqueue and await; a dedicated commit thread writes, syncs,
/// applies and publishes; flush and compaction run on their own threads. No writer's thread ever
/// waits for a disk; a read runs on its caller's thread and faults in what the page cache lacks.</para>
/// <para>Durability: an acknowledged write survives a crash per <see cref="DurabilityMode"/>; recovery
/// = newest manifest + replay of WAL frames after its flushed sequence, dropping only a torn tail.</para>
/// </summary>
public sealed partial class PyramidStore : IAsyncDisposable, IWalFrameSink
{
    private const string LockFileName = "LOCK";
    private const int RecycledWalFiles = 2;

    // Arena chunks kept touched ahead of a store that writes (see ArenaPool): 16 MiB, about 100 ms of the storage
    // bench's append rate.
    private const int WarmArenaChunks = 16;

    private readonly string _directory;
    private readonly PyramidOptions _options;
    private readonly FileStream _lockFile;
    private readonly BlockCache _cache;
    private readonly SegmentMapBudget _mapBudget;
    private readonly ArenaPool _arenas;

    // Every log the store knows. Invariant: an entry is added (under the queue lock, or by recovery) before
    // any write to its log is queued, and never removed, so the commit loop and readers can look logs up
    // without the queue lock.
    private readonly ConcurrentDictionary<ulong, StoredLog> _logs = new();

    // Guards the memtable list, the version, the published log states and sequence: what a view captures.
    private readonly object _viewLock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[]?[] _compactionPointers = new byte[CompactionPicker.MaxLevels][];

    // Published under _viewLock. Invariant: _immutables is oldest first, _immutablesNewestFirst its reverse.
    private List<Memtable> _immutables = [];
    private Memtable[] _immutablesNewestFirst = [];
    private StoreVersion _version;
    private bool _closed; // DisposeAsync dropped the store's pins: pinning now could revive unmapped segments
    private ulong _publishedSequence;
    private TaskCompletionSource _flushProgress = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Recycle is false for files recovery replayed: memtables may still read records mapped from them.
    // Invariant: both lists are read and written under _viewLock.
    private readonly List<(long Number, string Path, ulong LastSequence, bool Recycle)> _retiredWals = [];
    private readonly List<string> _recyclableWals = [];

    private long _nextFileNumber;
    private long _userBytes;
    private long _walBytes;
    private long _flushBytes;
    private long _compactionBytes;
    private long _flushes;
    private long _flushCpuTicks; // the CPU time of the threads that ran flushes, summed over the flushes
    private long _compactions;

    private PyramidStore(string directory, PyramidOptions options, FileStream lockFile, BlockCache cache, SegmentMapBudget mapBudget, StoreVersion version)
    {
        _directory = directory;
        _options = options;
        _lockFile = lockFile;
        _cache = cache;
        _mapBudget = mapBudget;
        _version = version;
        _arenas = new ArenaPool(
            (int)Math.Min(int.MaxValue, options.MemtableBytes * (1 + options.MaxImmutableMemtables) / ArenaPool.ChunkBytes),
            options.BackgroundWork ? WarmArenaChunks : 0);
        _active = new Memtable(_arenas);
        _applyGroup = ApplyGroup;
    }

    /// <summary>Directory holding the store's files.</summary>
    public string Directory => _directory;

    /// <summary>What the last <see cref="Open"/> recovered and dropped.</summary>
    public RecoveryReport Recovery { get; private set; } = null!;

    // ---------------------------------------------------------------- log space

    /// <summary>The readable range of <paramref name="log"/> as of the last commit; empty at 0 for a log never written.</summary>
    public LogBounds GetLogBounds(ulong log)
    {
        if (!_logs.TryGetValue(log, out var stored))
        {
            return default;
        }

        lock (_viewLock)
        {
            return new LogBounds(stored.Published.First, stored.Published.Next);
        }
    }

    /// <summary>Ids of the logs this store has seen written (including logs truncated to empty), ascending.</summary>
    public IReadOnlyList<ulong> GetLogIds()
    {
        var ids = _logs.Keys.ToArray();
        Array.Sort(ids);
        return ids;
    }

    /// <summary>Appends records to <paramref name="log"/> at its next offset; completes when they are durable per the durability mode.</summary>
    public async ValueTask AppendAsync(ulong log, ReadOnlyMemory<AppendRecord> records, CancellationToken cancellationToken = default)
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
                batch.Append(log, record.Epoch, record.Offset, record.Payload.Span);
            }

            await WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            batch.Dispose();
        }
    }

    /// <summary>Appends one record to <paramref name="log"/>.</summary>
    public ValueTask AppendAsync(ulong log, ulong epoch, ulong offset, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        AppendAsync(log, new[] { new AppendRecord(epoch, offset, payload) }, cancellationToken);

    /// <summary>The record of <paramref name="log"/> at <paramref name="offset"/>, or null outside its bounds.</summary>
    public ValueTask<LogRecord?> ReadAsync(ulong log, ulong offset, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var view = AcquireView(log);
        try
        {
            if (offset < view.State.First || offset >= view.State.Next)
            {
                return ValueTask.FromResult<LogRecord?>(null);
            }

            Span<byte> key = stackalloc byte[KeyCodec.LogKeyLength];
            KeyCodec.WriteLogKey(key, log, offset);
            if (!TryGetLog(view, offset, key, out var value))
            {
                throw new PyramidCorruptionException(_directory, (long)offset, $"record {offset} of log {log} is missing although the log spans it");
            }

            return ValueTask.FromResult<LogRecord?>(new LogRecord(BinaryPrimitives.ReadUInt64LittleEndian(value), offset, value[8..].ToArray()));
        }
        finally
        {
            view.Release();
        }
    }

    /// <summary>Scans <paramref name="log"/>'s records in [<paramref name="fromOffset"/>, <paramref name="toOffsetExclusive"/>) as of now.</summary>
    public LogCursor ReadLog(ulong log, ulong fromOffset, ulong toOffsetExclusive = ulong.MaxValue) =>
        new(AcquireView(log), fromOffset, toOffsetExclusive, _directory);

    /// <summary>Removes <paramref name="log"/>'s records at and after <paramref name="offset"/> (a Raft follower's divergent suffix).</summary>
    public ValueTask TruncateSuffixAsync(ulong log, ulong offset, CancellationToken cancellationToken = default) =>
        IsNoOpTruncation(WalOp.TruncateSuffix, log, offset)
            ? ValueTask.CompletedTask
            : WriteOneAsync(batch => batch.TruncateSuffix(log, offset), cancellationToken);

    /// <summary>Removes <paramref name="log"/>'s records below <paramref name="offset"/> (retention, Raft snapshots).
    /// Past the end it empties the log, which then continues at <paramref name="offset"/>.</summary>
    public ValueTask TruncatePrefixAsync(ulong log, ulong offset, CancellationToken cancellationToken = default) =>
        IsNoOpTruncation(WalOp.TruncatePrefix, log, offset)
            ? ValueTask.CompletedTask
            : WriteOneAsync(batch => batch.TruncatePrefix(log, offset), cancellationToken);

    /// <summary>
    /// Sets <paramref name="log"/>'s retention: records older than <paramref name="age"/>, and the oldest
    /// records beyond <paramref name="bytes"/> of payload, are dropped from its front by the background
    /// worker (or <see cref="ApplyRetentionAsync"/>). Null keeps them. Retention is held in memory: the
    /// log's owner sets it after every open. A Raft-owned log sets none; Raft decides its prefix.
    /// </summary>
    public void SetRetention(ulong log, TimeSpan? age, long? bytes)
    {
        if (age is { } a && a <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(age), age, "retention age must be positive");
        }

        if (bytes is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "retention bytes must not be negative");
        }

        // Under the queue lock: a refused batch that created the log in Reserve removes it again, and a setting made on
        // that object in between would be lost with it (the owner sets retention once per open).
        StoredLog stored;
        lock (_queueLock)
        {
            stored = _logs.GetOrAdd(log, static id => new StoredLog(id, LogSpaceState.Empty));
        }

        lock (_viewLock)
        {
            stored.RetentionAge = age;
            stored.RetentionBytes = bytes;
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

        cancellationToken.ThrowIfCancellationRequested();
        var view = AcquireView(0);
        try
        {
            var internalKey = new byte[key.Length + 1];
            internalKey[0] = KeyCodec.KvPrefix;
            key.Span.CopyTo(internalKey.AsSpan(1));
            return ValueTask.FromResult(TryGetKv(view, internalKey, out var value) ? value : null);
        }
        finally
        {
            view.Release();
        }
    }

    /// <summary>Live pairs with keys in [<paramref name="startInclusive"/>, <paramref name="endExclusive"/>) in key order.</summary>
    public KvCursor ScanKv(ReadOnlySpan<byte> startInclusive, ReadOnlySpan<byte> endExclusive)
    {
        ThrowIfOverLong(startInclusive, nameof(startInclusive));
        ThrowIfOverLong(endExclusive, nameof(endExclusive));
        var end = new byte[endExclusive.Length + 1];
        end[0] = KeyCodec.KvPrefix;
        endExclusive.CopyTo(end.AsSpan(1));
        return new KvCursor(AcquireView(0), startInclusive, end);
    }

    /// <summary>No stored key is longer than <see cref="WriteBatch.MaxKeyBytes"/>; a longer bound is a caller's mistake (and
    /// the cursor copies its start onto the stack).</summary>
    private static void ThrowIfOverLong(ReadOnlySpan<byte> bound, string name)
    {
        if (bound.Length > WriteBatch.MaxKeyBytes)
        {
            throw new ArgumentException($"a scan bound is at most {WriteBatch.MaxKeyBytes} bytes (a key's limit), got {bound.Length}", name);
        }
    }

    /// <summary>Live pairs whose key starts with <paramref name="prefix"/>, in key order.</summary>
    public KvCursor ScanKvPrefix(ReadOnlySpan<byte> prefix)
    {
        ThrowIfOverLong(prefix, nameof(prefix));
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

        return new KvCursor(AcquireView(0), prefix, end);
    }

    // ---------------------------------------------------------------- statistics and shutdown

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
            lock (_viewLock)
            {
                memtableBytes = _active.ApproximateBytes;
                foreach (var memtable in _immutables)
                {
                    memtableBytes += memtable.ApproximateBytes;
                }

                immutables = _immutables.Count;
            }

            return new PyramidStatistics
            {
                Levels = levels,
                MemtableBytes = memtableBytes,
                ImmutableMemtables = immutables,
                BlockCacheBytes = _cache.SizeBytes,
                BlockCacheHits = _cache.Hits,
                BlockCacheMisses = _cache.Misses,
                MappedSegments = _mapBudget.Mapped,
                PeakMappedSegments = _mapBudget.PeakMapped,
                MappedSegmentLimit = _mapBudget.Limit,
                SegmentRemaps = _mapBudget.Remaps,
                UserBytesWritten = Interlocked.Read(ref _userBytes),
                WalBytesWritten = Interlocked.Read(ref _walBytes),
                FlushBytesWritten = Interlocked.Read(ref _flushBytes),
                CompactionBytesWritten = Interlocked.Read(ref _compactionBytes),
                Flushes = Interlocked.Read(ref _flushes),
                FlushCpuTime = TimeSpan.FromTicks(Interlocked.Read(ref _flushCpuTicks)),
                Compactions = Interlocked.Read(ref _compactions),
                WalSyncs = Interlocked.Read(ref _walSyncs),
                CommitGroups = Interlocked.Read(ref _commitGroups),
                Logs = _logs.Count,
            };
        }
        finally
        {
            version.Release();
        }
    }

    /// <summary>Stops the commit loop (after the writes already queued) and the background workers, and
    /// closes files. Acknowledged writes stay in the WAL and are replayed on open.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!StopCommitLoop())
        {
            return;
        }

        await _commitLoopExited.Task.ConfigureAwait(false);
        _stop.Cancel();
        try
        {
            foreach (var worker in _workers)
            {
                await worker.ConfigureAwait(false);
            }

            Task spare;
            lock (_viewLock)
            {
                spare = _spareTask;
            }

            await spare.ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A worker or the spare preparation failed in a way the store could not classify: it is closed all the same.
            Fault(e);
        }

        await _arenas.StopWarmingAsync().ConfigureAwait(false); // never faults: the warmer's task only completes

        try
        {
            if (_fault is null && (_options.Durability != DurabilityMode.PerBatch || _unsyncedAcknowledged))
            {
                _wal.Sync();
            }
        }
        finally
        {
            // A FlushAsync or CompactAsync still running on a pool thread finishes before the files close.
            lock (_flushLock)
            {
                lock (_compactionLock)
                {
                    _wal.Dispose();
                    ReleasePins();
                }
            }

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

    private static int EstimatePayload(ReadOnlySpan<AppendRecord> records)
    {
        long total = 0;
        foreach (var record in records)
        {
            total += record.Payload.Length;
        }

        return (int)Math.Min(total, 1 << 29);
    }

    private async ValueTask WriteOneAsync(Action<WriteBatch> fill, CancellationToken cancellationToken)
    {
        var batch = new WriteBatch(64);
        try
        {
            fill(batch);
            await WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            batch.Dispose();
        }
    }
}
