using System.Diagnostics;
using Pyralog.Bench.Harness;
using Pyralog.Storage.Native;

namespace Pyralog.Bench.Storage;

/// <summary>
/// <c>fill-1024B-logs100</c>: a silo's store while its partition replicas are filled. 100 logs take 1 KiB records
/// in 64-record batches from 16 writers, round robin, until 1 GiB (<c>PYRALOG_BENCH_FILL_BYTES</c>); then the case
/// waits until flush and compaction stop writing. Reports the fill rate, how long the background work ran on after
/// the last append, and the bytes the store wrote (WAL, flush, compaction) per byte appended, read once the last
/// memtable is flushed too and the store has settled again.
/// </summary>
internal static class ManyLogFillCase
{
    public const string Name = "fill-1024B-logs100";
    private const int Logs = 100, Writers = 16, BatchRecords = 64, Size = 1024;
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(3), SettleLimit = TimeSpan.FromMinutes(5);

    /// <summary>The store as configured, then (as the reference in the same run) with every flush writing one segment for all logs.</summary>
    public static async Task RunAsync(BenchReport report, string root, string suite)
    {
        foreach (var (system, options) in new[] { ("pyralog", new PyramidOptions()), ("pyralog-shared-segments", new PyramidOptions { SeparateLogSegmentBytes = long.MaxValue }) })
        {
            var directory = Path.Combine(root, system + "-fill");
            try
            {
                await FillAsync(report, directory, suite, system, options);
            }
            finally
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private static async Task FillAsync(BenchReport report, string directory, string suite, string system, PyramidOptions options)
    {
        var fillBytes = BenchSizes.Parse(Environment.GetEnvironmentVariable("PYRALOG_BENCH_FILL_BYTES"), 1L << 30);
        var payload = new byte[Size];
        Random.Shared.NextBytes(payload);
        await using var store = PyramidStore.Open(directory, options);
        var batchesPerWriter = fillBytes / Size / BatchRecords / Writers;
        var watch = Stopwatch.StartNew();
        var tasks = new Task[Writers];
        for (var w = 0; w < Writers; w++)
        {
            var writer = w;
            tasks[w] = Task.Run(async () =>
            {
                using var batch = new WriteBatch(BatchRecords * (Size + 16) + 64);
                var next = new ulong[Logs];
                var log = writer;
                for (long i = 0; i < batchesPerWriter; i++, log = log + Writers >= Logs ? writer : log + Writers)
                {
                    batch.Clear();
                    for (var r = 0; r < BatchRecords; r++)
                    {
                        batch.Append((ulong)log + 1, 1, next[log] + (ulong)r, payload);
                    }

                    await store.WriteAsync(batch);
                    next[log] += BatchRecords;
                }
            });
        }

        await Task.WhenAll(tasks);
        var filled = watch.Elapsed;
        var records = batchesPerWriter * Writers * BatchRecords;

        var settled = await SettleAsync(store, options, watch, filled);

        // Outside the timed fill and settling: the last memtable's flush and the compaction it brings count in the
        // write amplification too, as they would once the store had run on.
        await store.FlushAsync();
        await SettleAsync(store, options, watch, watch.Elapsed);
        var statistics = store.GetStatistics();
        report.Add(suite, Name, system, "records/s", records / filled.TotalSeconds, "records/s");
        report.Add(suite, Name, system, "settle s", (settled - filled).TotalSeconds, "s");
        report.Add(suite, Name, system, "write-amp", statistics.WriteAmplification, "x");
        report.Add(suite, Name, system, "compaction MB", statistics.CompactionBytesWritten / BenchUnits.BytesPerMegabyte, "MB");
        report.Add(suite, Name, system, "segments", statistics.Levels.Sum(l => l.Segments), "segments");
    }

    /// <summary>Waits (at most <see cref="SettleLimit"/> from <paramref name="from"/>) until flush and compaction have
    /// written nothing for <see cref="Quiet"/> and no compaction is due; returns when they last wrote.</summary>
    private static async Task<TimeSpan> SettleAsync(PyramidStore store, PyramidOptions options, Stopwatch watch, TimeSpan from)
    {
        var settled = from;
        var last = Work(store.GetStatistics());
        while ((watch.Elapsed - settled < Quiet || Due(store.GetStatistics(), options)) && watch.Elapsed - from < SettleLimit)
        {
            await Task.Delay(100);
            var now = Work(store.GetStatistics());
            if (now != last)
            {
                last = now;
                settled = watch.Elapsed;
            }
        }

        return settled;
    }

    /// <summary>Whether the compaction picker has work: a compaction's bytes are counted only once it ends.</summary>
    private static bool Due(PyramidStatistics statistics, PyramidOptions options)
    {
        if (statistics.Levels[0].Segments >= options.L0CompactionTrigger)
        {
            return true;
        }

        var target = options.L1TargetBytes;
        for (var level = 1; level < statistics.Levels.Count - 1; level++, target *= options.LevelSizeMultiplier)
        {
            if (statistics.Levels[level].Bytes > target)
            {
                return true;
            }
        }

        return false;
    }

    private static (long, long, long) Work(PyramidStatistics statistics) =>
        (statistics.FlushBytesWritten, statistics.CompactionBytesWritten, statistics.ImmutableMemtables);
}
