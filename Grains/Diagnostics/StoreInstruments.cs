using System.Diagnostics;
using System.Diagnostics.Metrics;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Diagnostics;

/// <summary>
/// The silo store's shape and work as observable instruments (meter <c>Pyralog.Storage</c>), read from
/// <see cref="PyramidStore.GetStatistics"/> at most once a second however many instruments a scrape reads. The
/// engine's own hot-path histograms (WAL sync time, commit group size) are in <see cref="StoreCommitInstruments"/>.
/// </summary>
internal sealed class StoreInstruments : IDisposable
{
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(1);

    private readonly Meter _meter = new(StoreCommitInstruments.MeterName);
    private readonly PyramidStore _store;
    private readonly object _lock = new();

    // Invariant: _statistics was read at _readAt (Stopwatch timestamp), or is null before the first read.
    private PyramidStatistics? _statistics;
    private long _readAt;

    public StoreInstruments(PyramidStore store)
    {
        _store = store;
        _meter.CreateObservableCounter("pyralog.storage.user.written", () => Read().UserBytesWritten, "By", "Key, value and record bytes callers wrote since the store opened.");
        _meter.CreateObservableCounter("pyralog.storage.wal.written", () => Read().WalBytesWritten, "By", "Bytes written to the write-ahead log since the store opened.");
        _meter.CreateObservableCounter("pyralog.storage.flush.written", () => Read().FlushBytesWritten, "By", "Bytes memtable flushes wrote since the store opened.");
        _meter.CreateObservableCounter("pyralog.storage.flush.cpu_time", () => Read().FlushCpuTime.TotalSeconds, "s", "CPU time memtable flushes took on the threads that ran them since the store opened.");
        _meter.CreateObservableCounter("pyralog.storage.compaction.written", () => Read().CompactionBytesWritten, "By", "Bytes compactions wrote since the store opened.");
        _meter.CreateObservableCounter("pyralog.storage.wal.syncs", () => Read().WalSyncs, "{sync}", "fdatasync calls on the write-ahead log since the store opened.");
        _meter.CreateObservableCounter("pyralog.storage.commit.groups", () => Read().CommitGroups, "{group}", "Commit groups (one WAL write each) since the store opened.");
        _meter.CreateObservableGauge("pyralog.storage.write_amplification", () => Read().WriteAmplification, "1", "Bytes written to disk (WAL, flush, compaction) per byte callers wrote.");
        _meter.CreateObservableGauge("pyralog.storage.memtable.size", () => Read().MemtableBytes, "By", "Bytes in the active memtable.");
        _meter.CreateObservableGauge("pyralog.storage.block_cache.size", () => Read().BlockCacheBytes, "By", "Bytes held by the block cache.");
        _meter.CreateObservableGauge("pyralog.storage.logs", () => Read().Logs, "{log}", "Logs (replicas' Raft logs) the store holds.");
        _meter.CreateObservableGauge("pyralog.storage.level.size", LevelSizes, "By", "Bytes in each level's segments.");
        _meter.CreateObservableGauge("pyralog.storage.segments.mapped", () => Read().MappedSegments, "{segment}", "Segments memory-mapped now (each one of the process's vm.max_map_count mappings).");
        _meter.CreateObservableGauge("pyralog.storage.segments.mapped_limit", () => Read().MappedSegmentLimit, "{segment}", "Segments the store keeps mapped at most (PyramidOptions.MaxMappedSegments).");
        _meter.CreateObservableCounter("pyralog.storage.segments.remaps", () => Read().SegmentRemaps, "{map}", "Times a read mapped a segment again after the limit unmapped it.");
    }

    public void Dispose() => _meter.Dispose();

    private PyramidStatistics Read()
    {
        lock (_lock)
        {
            if (_statistics is null || Stopwatch.GetElapsedTime(_readAt) >= Fresh)
            {
                _statistics = _store.GetStatistics();
                _readAt = Stopwatch.GetTimestamp();
            }

            return _statistics;
        }
    }

    private IEnumerable<Measurement<long>> LevelSizes()
    {
        foreach (var level in Read().Levels)
        {
            yield return new Measurement<long>(level.Bytes, new KeyValuePair<string, object?>("pyralog.storage.level", level.Level));
        }
    }
}
