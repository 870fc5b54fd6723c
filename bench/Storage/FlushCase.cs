using System.Diagnostics;
using Pyralog.Bench.Harness;
using Pyralog.Storage.Native;

namespace Pyralog.Bench.Storage;

/// <summary>
/// <c>flush-100B</c>: the flush alone. One log takes 500,000 records of 100 B (no fsync: the store's durability is
/// <c>None</c>, and nothing else runs meanwhile), then the memtable is flushed to its segment; a round is one such fill
/// and flush, the first a warm-up. Reports the flush's CPU time per record (<see cref="PyramidStatistics.FlushCpuTime"/>,
/// the flushing thread's, its page-cache copy and segment sync included) and the segment bytes per second of the
/// flush's wall time, the medians of the measured rounds: a figure for the flush's own cost, which the append cases
/// see only through the writers' throughput on a busy machine.
/// </summary>
internal static class FlushCase
{
    public const string Name = "flush-100B";
    private const int Rounds = 7, Records = 500_000, Batch = 1_000, Size = 100;

    public static async Task RunAsync(BenchReport report, string root, string suite)
    {
        var directory = Path.Combine(root, "pyralog-flush");
        var payload = new byte[Size];
        new Random(7).NextBytes(payload);
        var perRecord = new List<double>();
        var megabytesPerSecond = new List<double>();
        try
        {
            // Room for a round in one memtable; no compaction of the rounds' L0 segments meanwhile.
            await using var store = PyramidStore.Open(directory, new PyramidOptions
            {
                Durability = DurabilityMode.None, MemtableBytes = 256L << 20, L0CompactionTrigger = 1_000,
            });
            using var batch = new WriteBatch((Batch * (Size + 16)) + 64);
            ulong next = 0;
            for (var round = 0; round < Rounds; round++)
            {
                for (var b = 0; b < Records / Batch; b++)
                {
                    batch.Clear();
                    for (var r = 0; r < Batch; r++)
                    {
                        batch.Append(1, 1, next++, payload);
                    }

                    await store.WriteAsync(batch);
                }

                var before = store.GetStatistics();
                var watch = Stopwatch.StartNew();
                await store.FlushAsync();
                var seconds = watch.Elapsed.TotalSeconds;
                var after = store.GetStatistics();
                if (round > 0)
                {
                    perRecord.Add((after.FlushCpuTime - before.FlushCpuTime).TotalNanoseconds / Records);
                    megabytesPerSecond.Add(BenchUnits.MegabytesPerSecond(after.FlushBytesWritten - before.FlushBytesWritten, seconds));
                }
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }

        report.Add(suite, Name, "pyralog", "cpu ns/record", Median(perRecord), "ns");
        report.Add(suite, Name, "pyralog", "MB/s", Median(megabytesPerSecond), "MB/s");
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
