using System.Diagnostics;
using Pyralog.Bench.Harness;
using Pyralog.Storage.Native;

namespace Pyralog.Bench.Storage;

/// <summary>
/// <c>read-random-logs1000</c>: point reads at random offsets of 1,000 logs, each log in segments of its own (about
/// 1,000 segments), first with the store's default mapping limit (everything stays mapped), then in the same run with
/// <see cref="PyramidOptions.MaxMappedSegments"/> at 64, where almost every read maps its segment again: what a store
/// larger than its mapping limit pays per read. Reports records/s, p50/p99 and the remaps per second.
/// </summary>
internal static class MappedLimitReadCase
{
    public const string Name = "read-random-logs1000";
    private const int Logs = 1_000, RecordsPerLog = 1_000, Size = 100, TightLimit = 64;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(5);

    public static async Task RunAsync(BenchReport report, string root, string suite)
    {
        var directory = Path.Combine(root, "pyralog-logs1000-reads");
        try
        {
            await FillAsync(directory);
            foreach (var (system, limit) in new[] { ("pyralog", 0), ($"pyralog-mapped{TightLimit}", TightLimit) })
            {
                await ReadAsync(report, directory, suite, system, limit);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task FillAsync(string directory)
    {
        var payload = new byte[Size];
        Random.Shared.NextBytes(payload);
        var options = new PyramidOptions { Durability = DurabilityMode.None, BackgroundWork = false, SeparateLogSegmentBytes = 4096 };
        await using var store = PyramidStore.Open(directory, options);
        using var batch = new WriteBatch(RecordsPerLog * (Size + 16) + 64);
        for (var log = 1UL; log <= Logs; log++)
        {
            batch.Clear();
            for (var offset = 0UL; offset < RecordsPerLog; offset++)
            {
                batch.Append(log, 1, offset, payload);
            }

            await store.WriteAsync(batch);
        }

        await store.FlushAsync();
    }

    private static async Task ReadAsync(BenchReport report, string directory, string suite, string system, int limit)
    {
        var options = new PyramidOptions { BackgroundWork = false, MaxMappedSegments = limit };
        await using var store = PyramidStore.Open(directory, options);
        var segments = store.GetStatistics().Levels.Sum(level => level.Segments);
        if (segments < Logs)
        {
            throw new InvalidOperationException($"{Name}: the fill left {segments} segments, not one or more per log");
        }

        var random = new Random(17);
        var latencies = new LatencyRecorder(1 << 23);
        var remapsBefore = store.GetStatistics().SegmentRemaps;
        long reads = 0;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < Budget)
        {
            var log = (ulong)random.Next(1, Logs + 1);
            var offset = (ulong)random.Next(RecordsPerLog);
            var start = Stopwatch.GetTimestamp();
            if (await store.ReadAsync(log, offset) is not { Payload.Length: Size })
            {
                throw new InvalidOperationException($"{Name}: record {offset} of log {log} did not read back");
            }

            latencies.Record(Stopwatch.GetTimestamp() - start);
            reads++;
        }

        var seconds = watch.Elapsed.TotalSeconds;
        var remaps = store.GetStatistics().SegmentRemaps - remapsBefore;
        report.Add(suite, Name, system, "records/s", reads / seconds, "records/s");
        report.Add(suite, Name, system, "p50 us", latencies.PercentileMicros(50), "us");
        report.Add(suite, Name, system, "p99 us", latencies.PercentileMicros(99), "us");
        report.Add(suite, Name, system, "remaps/s", remaps / seconds, "remaps/s");
    }
}
