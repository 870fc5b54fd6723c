using System.Diagnostics;
using Pyralog.Bench.Harness;
using Pyralog.Storage.Native;

namespace Pyralog.Bench.Storage;

/// <summary>
/// <c>fill-1024B-logs100</c>: a silo's store while its partition replicas are filled. 100 logs take 1 KiB records
/// in 64-record batches from 16 writers, round robin, until 1 GiB (<c>PYRALOG_BENCH_FILL_BYTES</c>); then the case
/// waits until flush and compaction stop writing. Reports the fill rate, how long the background work ran on after
/// the last append, and the bytes the store wrote (WAL, flush, compaction) per byte appended.
/// </summary>
internal static class ManyLogFillCase
{
    public const string Name = "fill-1024B-logs100";
    private const int Logs = 100, Writers = 16, BatchRecords = 64, Size = 1024;
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(3), SettleLimit = TimeSpan.FromMinutes(5);

    public static async Task RunAsync(BenchReport report, string root, string suite)
    {
        var fillBytes = BenchSizes.Parse(Environment.GetEnvironmentVariable("PYRALOG_BENCH_FILL_BYTES"), 1L << 30);
        var directory = Path.Combine(root, "pyralog-fill");
        var payload = new byte[Size];
        Random.Shared.NextBytes(payload);
        await using var store = PyramidStore.Open(directory, new PyramidOptions());
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

        var settled = filled;
        var last = Work(store.GetStatistics());
        while (watch.Elapsed - settled < Quiet && watch.Elapsed - filled < SettleLimit)
        {
            await Task.Delay(100);
            var now = Work(store.GetStatistics());
            if (now != last)
            {
                last = now;
                settled = watch.Elapsed;
            }
        }

        var statistics = store.GetStatistics();
        report.Add(suite, Name, "pyralog", "records/s", records / filled.TotalSeconds, "records/s");
        report.Add(suite, Name, "pyralog", "settle s", (settled - filled).TotalSeconds, "s");
        report.Add(suite, Name, "pyralog", "write-amp", statistics.WriteAmplification, "x");
        report.Add(suite, Name, "pyralog", "compaction MB", statistics.CompactionBytesWritten / 1048576.0, "MB");
        report.Add(suite, Name, "pyralog", "segments", statistics.Levels.Sum(l => l.Segments), "segments");
    }

    private static (long, long, long) Work(PyramidStatistics statistics) =>
        (statistics.FlushBytesWritten, statistics.CompactionBytesWritten, statistics.ImmutableMemtables);
}
