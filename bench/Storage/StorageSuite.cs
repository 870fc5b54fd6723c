using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Pyralog.Bench.Harness;
using Pyralog.Storage.Native;

namespace Pyralog.Bench.Storage;

/// <summary>
/// The Pyramid engine against RocksDB and FASTER FasterLog at equal durability (sync per batch), plus
/// the disk floor measured on the same directory. Every case runs for a fixed time budget on a fresh
/// store under a temp directory that is deleted afterwards, so the whole suite stays around 2–3 minutes.
/// </summary>
public sealed class StorageSuite : IBenchSuite
{
    private const string SuiteName = "storage";
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(2);
    private const string PacedCase = "append-1024B-batch100-at500";
    private const string ManyLogsCase = "append-100B-batch1000-logs1000";
    private const string RecoveryCase = "recovery-1GiB-wal";
    private const string ReadRandom = "read-random", ReadSequential = "read-sequential", Scan = "scan";
    private const string KvGet = "kv-get";
    private static readonly string[] ReadCases = [ReadRandom, ReadSequential, Scan];
    private static readonly string[] KvCases = ["kv-put-batch1", "kv-put-batch1000", KvGet];

    /// <summary>Every case, in the order a full run measures them (the disk floor, which the ratios need, always runs).</summary>
    private static readonly string[] Cases =
    [
        .. from size in new[] { 100, 1024 } from batch in new[] { 1, 100, 1000 } select AppendCase(size, batch),
        PacedCase, .. ReadCases, .. KvCases, ManyLogsCase, ManyLogFillCase.Name, MappedLimitReadCase.Name, FlushCase.Name, RecoveryCase,
    ];

    // About a quarter of RocksDB's closed-loop rate in append-1024B-batch100 on a fast day (50 MB/s), so both engines
    // keep up on a slow-disk day too; longer than Budget for enough samples above the p99.
    private const int PacedBatchesPerSecond = 500;
    private static readonly TimeSpan PacedBudget = TimeSpan.FromSeconds(8);
    private const long ReadRecords = 1_000_000;
    private const int ReadPayload = 100;

    /// <summary>Latency samples a read case holds: up to 4 M reads/s over <see cref="Budget"/> (1.9 M/s measured sequentially).</summary>
    private const int ReadSamples = 1 << 23;
    private const string RecoveryProbeVariable = "PYRALOG_BENCH_RECOVERY_PROBE";
    private const ulong RecoveryRecords = 1_000_000;

    /// <summary>The keys <c>kv-get</c> reads at random, the first of those the puts wrote (each engine's puts write 2–3 M).</summary>
    private const long KvGetKeys = 1_000_000;
    private static readonly PyramidOptions RecoveryOptions = new() { MemtableBytes = 1L << 30, Durability = DurabilityMode.None, BackgroundWork = false };

    public string Name => SuiteName;

    public string Description => "Pyramid LSM engine vs RocksDB and FasterLog: appends, reads, scans, KV, disk floor";

    public async Task RunAsync(BenchReport report, CancellationToken cancellationToken)
    {
        if (Environment.GetEnvironmentVariable(RecoveryProbeVariable) is { Length: > 0 } probeDirectory)
        {
            await RecoveryProbeAsync(probeDirectory);
            return;
        }

        var root = Path.Combine(Path.GetTempPath(), "pyralog-bench-storage-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            var selected = SelectedCases(BenchSelection.CaseFilter).ToHashSet();
            Floor(report, root);
            foreach (var size in new[] { 100, 1024 })
            {
                foreach (var batch in new[] { 1, 100, 1000 })
                {
                    foreach (var system in Systems)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        if (selected.Contains(AppendCase(size, batch)))
                        {
                            await AppendCaseAsync(report, root, system, size, batch);
                        }
                    }
                }
            }

            foreach (var system in Systems)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (selected.Contains(PacedCase))
                {
                    await AppendCaseAsync(report, root, system, 1024, 100, PacedBatchesPerSecond);
                }
            }

            var reads = CasesToRun(ReadCases, selected);
            foreach (var system in Systems)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (reads.Count > 0)
                {
                    await ReadCasesAsync(report, root, system, reads, selected);
                }
            }

            var kv = CasesToRun(KvCases, selected);
            foreach (var system in Systems)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (kv.Count > 0)
                {
                    await KvCasesAsync(report, root, system, kv, selected);
                }
            }

            if (selected.Contains(ManyLogsCase))
            {
                await ManyLogsCaseAsync(report, root);
            }

            if (selected.Contains(ManyLogFillCase.Name))
            {
                await ManyLogFillCase.RunAsync(report, root, SuiteName);
            }

            if (selected.Contains(MappedLimitReadCase.Name))
            {
                await MappedLimitReadCase.RunAsync(report, root, SuiteName);
            }

            if (selected.Contains(FlushCase.Name))
            {
                await FlushCase.RunAsync(report, root, SuiteName);
            }

            if (selected.Contains(RecoveryCase))
            {
                await RecoveryCaseAsync(report, root);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The cases <paramref name="filter"/> (<c>PYRALOG_BENCH_CASES</c>) selects, each by its own name, in run order.</summary>
    internal static IReadOnlyList<string> SelectedCases(string? filter) => [.. Cases.Where(c => BenchSelection.Case(c, filter))];

    /// <summary>
    /// The cases of a group sharing one store (<paramref name="group"/>, in run order) that run for <paramref name="selected"/>:
    /// every one up to the last selected, so a case selected alone finds its store as in a full run (kv-get reads the
    /// keys the puts wrote; the put cases follow each other). Only the selected ones are reported.
    /// </summary>
    internal static IReadOnlyList<string> CasesToRun(IReadOnlyList<string> group, IReadOnlySet<string> selected)
    {
        var last = -1;
        for (var i = 0; i < group.Count; i++)
        {
            if (selected.Contains(group[i]))
            {
                last = i;
            }
        }

        return [.. group.Take(last + 1)];
    }

    private static string AppendCase(int size, int batch) => $"append-{size}B-batch{batch}";

    // PYRALOG_BENCH_SYSTEMS=pyralog measures one engine alone (to profile it); ratios need both in one run.
    private static readonly string[] Systems = [.. new[] { "pyralog", "rocksdb", "faster" }.Where(BenchSelection.System)];

    private static IStorageTarget Create(string system, string directory)
    {
        Directory.CreateDirectory(directory);
        return system switch
        {
            "pyralog" => new PyralogTarget(directory),
            "rocksdb" => new RocksDbTarget(directory),
            _ => new FasterTarget(directory),
        };
    }

    private static void Floor(BenchReport report, string root)
    {
        report.Add(SuiteName, "disk-seq-write", "floor", "MB/s", DiskFloor.SequentialWriteMegabytesPerSecond(root, Budget), "MB/s");
        var sync = DiskFloor.SyncLatency(root, Budget);
        report.Add(SuiteName, "fsync", "floor", "p50 us", sync.PercentileMicros(50), "us");
        report.Add(SuiteName, "fsync", "floor", "p99 us", sync.PercentileMicros(99), "us");
    }

    /// <summary>
    /// Appends of <paramref name="batch"/> records of <paramref name="size"/> bytes, each synced, for a fixed time on a fresh
    /// store after a warm-up on a throwaway one: back to back, or at <paramref name="batchesPerSecond"/>. The closed loop's
    /// p99 compares engines writing at different rates (Pyralog's ~1.8× RocksDB's bytes per second load the disk its
    /// flushes share with the WAL syncs more); the paced case compares them doing the same work. A paced batch's latency
    /// runs from its scheduled start, so a batch that starts late behind a slow one counts the wait (no coordinated
    /// omission), and every batch scheduled in the window is issued, also behind a stall at its end: an engine that
    /// cannot keep up shows it as a growing p99.
    /// </summary>
    private static async Task AppendCaseAsync(BenchReport report, string root, string system, int size, int batch, int batchesPerSecond = 0)
    {
        var directory = Path.Combine(root, $"{system}-append-{size}-{batch}-{batchesPerSecond}");
        var payloads = new byte[batch][];
        for (var i = 0; i < batch; i++)
        {
            payloads[i] = new byte[size];
            Random.Shared.NextBytes(payloads[i]);
        }

        await AppendRun.WarmUpAsync(d => Create(system, d), directory + "-warm-up", payloads, batch, TimeProvider.System);

        var latencies = new LatencyRecorder(1 << 20);
        var target = Create(system, directory);
        try
        {
            var (records, seconds) = batchesPerSecond > 0
                ? await AppendRun.RunAsync(target, payloads, batch, PacedBudget, latencies, TimeProvider.System, batchesPerSecond)
                : await AppendRun.RunAsync(target, payloads, batch, Budget, latencies, TimeProvider.System);
            var @case = batchesPerSecond > 0 ? PacedCase : AppendCase(size, batch);
            report.Add(SuiteName, @case, system, "records/s", records / seconds, "records/s");
            report.Add(SuiteName, @case, system, "MB/s", BenchUnits.MegabytesPerSecond(records * (double)size, seconds), "MB/s");
            report.Add(SuiteName, @case, system, "p50 us", latencies.PercentileMicros(50), "us");
            report.Add(SuiteName, @case, system, "p99 us", latencies.PercentileMicros(99), "us");
            if (batchesPerSecond > 0)
            {
                report.Add(SuiteName, @case, system, "p99.9 us", latencies.PercentileMicros(99.9), "us");
            }

            if (target is PyralogTarget pyralog && batch == 1000)
            {
                // After the timed window: the memtable's records are written once more by its flush.
                var statistics = await pyralog.FlushedStatisticsAsync();
                report.Add(SuiteName, @case, system, "write-amp", statistics.WriteAmplification, "x");
                report.Add(SuiteName, @case, system, "flush cpu ns/record", statistics.FlushCpuTime.TotalNanoseconds / records, "ns");
            }
        }
        finally
        {
            await target.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Runs <paramref name="run"/> (of <see cref="ReadCases"/>) on 1 M loaded records, reporting those <paramref name="selected"/>.</summary>
    private static async Task ReadCasesAsync(BenchReport report, string root, string system, IReadOnlyList<string> run, IReadOnlySet<string> selected)
    {
        var directory = Path.Combine(root, $"{system}-reads");
        var target = Create(system, directory);
        try
        {
            var payload = new byte[ReadPayload];
            Random.Shared.NextBytes(payload);
            await target.LoadAsync(ReadRecords, payload);

            var random = new Random(7);
            var latencies = new LatencyRecorder(ReadSamples);
            var before = (target as PyralogTarget)?.Statistics;
            var (reads, seconds) = await TimedAsync(latencies, _ => target.ReadAsync(random.NextInt64(ReadRecords)));
            if (selected.Contains(ReadRandom))
            {
                AddRead(report, ReadRandom, system, reads, seconds, latencies);
                if (target is PyralogTarget pyralog && before is not null)
                {
                    var after = pyralog.Statistics;
                    var hits = after.BlockCacheHits - before.BlockCacheHits;
                    var misses = after.BlockCacheMisses - before.BlockCacheMisses;
                    report.Add(SuiteName, ReadRandom, system, "cache hit %", 100.0 * hits / Math.Max(1, hits + misses), "%");
                }
            }

            if (!run.Contains(ReadSequential))
            {
                return;
            }

            latencies = new LatencyRecorder(ReadSamples);
            (reads, seconds) = await TimedAsync(latencies, i => target.ReadAsync(i % ReadRecords));
            if (selected.Contains(ReadSequential))
            {
                AddRead(report, ReadSequential, system, reads, seconds, latencies);
            }

            if (!run.Contains(Scan))
            {
                return;
            }

            var watch = Stopwatch.StartNew();
            var (records, bytes) = target.ScanAll();
            watch.Stop();
            report.Add(SuiteName, Scan, system, "records/s", records / watch.Elapsed.TotalSeconds, "records/s");
            report.Add(SuiteName, Scan, system, "MB/s", BenchUnits.MegabytesPerSecond(bytes, watch.Elapsed.TotalSeconds), "MB/s");
        }
        finally
        {
            await target.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Runs <paramref name="run"/> (of <see cref="KvCases"/>) on one store, reporting those <paramref name="selected"/>.</summary>
    private static async Task KvCasesAsync(BenchReport report, string root, string system, IReadOnlyList<string> run, IReadOnlySet<string> selected)
    {
        var directory = Path.Combine(root, $"{system}-kv");
        var value = new byte[100];
        Random.Shared.NextBytes(value);
        var keys = new byte[1000][];
        var warm = Create(system, directory + "-warm-up");
        try
        {
            if (!warm.SupportsKv)
            {
                return;
            }

            long warmWritten = 0;
            foreach (var batch in new[] { 1, 1000 })
            {
                await PutForAsync(warm, keys, value, batch, AppendRun.WarmUp, latencies: null, warmWritten);
                warmWritten += 1_000_000;
            }
        }
        finally
        {
            await warm.DisposeAsync();
            Directory.Delete(directory + "-warm-up", recursive: true);
        }

        var target = Create(system, directory);
        try
        {
            long written = 0;
            foreach (var batch in new[] { 1, 1000 })
            {
                var @case = $"kv-put-batch{batch}";
                if (!run.Contains(@case))
                {
                    return;
                }

                var latencies = new LatencyRecorder(1 << 20);
                var (puts, putSeconds) = await PutForAsync(target, keys, value, batch, Budget, latencies, written);
                written += puts;
                if (selected.Contains(@case))
                {
                    report.Add(SuiteName, @case, system, "records/s", puts / putSeconds, "records/s");
                    report.Add(SuiteName, @case, system, "p50 us", latencies.PercentileMicros(50), "us");
                    report.Add(SuiteName, @case, system, "p99 us", latencies.PercentileMicros(99), "us");
                }
            }

            if (!run.Contains(KvGet))
            {
                return;
            }

            // The same keys for every engine: each put for the same time, so a faster one wrote more, and reading all it
            // wrote would read a larger key space than its peer does.
            if (written < KvGetKeys)
            {
                throw new InvalidOperationException($"{KvGet}: {system} put {written:N0} keys, fewer than the {KvGetKeys:N0} every engine's gets read");
            }

            var random = new Random(11);
            var getLatencies = new LatencyRecorder(ReadSamples);
            var (gets, seconds) = await TimedAsync(getLatencies, _ => target.GetAsync(Key(random.NextInt64(KvGetKeys))));
            AddRead(report, KvGet, system, gets, seconds, getLatencies);
        }
        finally
        {
            await target.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Puts batches of fresh keys (from <paramref name="firstKey"/> on) for <paramref name="budget"/>; the time includes making the keys.</summary>
    private static async Task<(long Puts, double Seconds)> PutForAsync(IStorageTarget target, byte[][] keys, byte[] value, int batch, TimeSpan budget, LatencyRecorder? latencies, long firstKey)
    {
        long puts = 0;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < budget)
        {
            for (var i = 0; i < batch; i++)
            {
                keys[i] = Key(firstKey + puts + i);
            }

            var start = Stopwatch.GetTimestamp();
            await target.PutAsync(keys, value, batch);
            latencies?.Record(Stopwatch.GetTimestamp() - start);
            puts += batch;
        }

        return (puts, watch.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// A silo's store: 1,000 logs (partition replicas) written by 64 concurrent writers, each appending
    /// batches of 1,000 × 100 B to its logs in turn, fsync per commit group. Target: the records/s of the
    /// single-log <c>append-100B-batch1000</c>, since one fdatasync carries the appends of every log.
    /// </summary>
    private static async Task ManyLogsCaseAsync(BenchReport report, string root)
    {
        const int logs = 1000, writers = 64, batchRecords = 1000, size = 100;
        var directory = Path.Combine(root, "pyralog-many-logs");
        var payload = new byte[size];
        Random.Shared.NextBytes(payload);
        var latencies = new LatencyRecorder(1 << 20);
        await using var store = PyramidStore.Open(directory, new PyramidOptions());
        var next = new ulong[logs];
        var before = store.GetStatistics();
        var watch = Stopwatch.StartNew();
        var tasks = new Task<long>[writers];
        for (var w = 0; w < writers; w++)
        {
            var writer = w;
            tasks[w] = Task.Run(async () =>
            {
                using var batch = new WriteBatch(batchRecords * (size + 16) + 64);
                long records = 0;
                for (var log = writer; watch.Elapsed < Budget; log = log + writers >= logs ? writer : log + writers)
                {
                    batch.Clear();
                    for (var i = 0; i < batchRecords; i++)
                    {
                        batch.Append((ulong)log, 1, next[log] + (ulong)i, payload);
                    }

                    var start = Stopwatch.GetTimestamp();
                    await store.WriteAsync(batch);
                    latencies.Record(Stopwatch.GetTimestamp() - start);
                    next[log] += batchRecords;
                    records += batchRecords;
                }

                return records;
            });
        }

        var total = (await Task.WhenAll(tasks)).Sum();
        watch.Stop();
        var after = store.GetStatistics();

        // After the timed window (and after the WAL syncs are read: the flush's WAL switch syncs once more).
        await store.FlushAsync();
        var flushed = store.GetStatistics();
        const string @case = ManyLogsCase;
        var seconds = watch.Elapsed.TotalSeconds;
        report.Add(SuiteName, @case, "pyralog", "records/s", total / seconds, "records/s");
        report.Add(SuiteName, @case, "pyralog", "p99 us", latencies.PercentileMicros(99), "us");
        report.Add(SuiteName, @case, "pyralog", "fsyncs/s", (after.WalSyncs - before.WalSyncs) / seconds, "fsyncs/s");
        report.Add(SuiteName, @case, "pyralog", "batches/fsync", total / (double)batchRecords / Math.Max(1, after.WalSyncs - before.WalSyncs), "batches");
        report.Add(SuiteName, @case, "pyralog", "write-amp", flushed.WriteAmplification, "x");
    }

    /// <summary>Reopen time of a store whose acknowledged data sits only in a ~1 GiB WAL, as after a crash:
    /// the reopen runs in a fresh process (this bench, re-launched as a probe), because a process that just
    /// wrote 1 GiB pays for re-faulting memory its GC released, which a restarted node does not.</summary>
    private static async Task RecoveryCaseAsync(BenchReport report, string root)
    {
        var directory = Path.Combine(root, "pyralog-recovery");
        var payload = new byte[1024];
        Random.Shared.NextBytes(payload);
        await using (var store = PyramidStore.Open(directory, RecoveryOptions))
        {
            using var batch = new WriteBatch(2 << 20);
            for (ulong offset = 0; offset < RecoveryRecords; offset += 1000)
            {
                batch.Clear();
                for (ulong i = 0; i < 1000; i++)
                {
                    batch.Append(1, 1, offset + i, payload);
                }

                await store.WriteAsync(batch);
            }
        }

        var walBytes = Directory.GetFiles(directory, "wal-*.log").Sum(f => new FileInfo(f).Length);

        // Hand this process's garbage back to the OS first: a restarted node does not share a machine with
        // the gigabyte its crashed predecessor had allocated.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(typeof(StorageSuite).Assembly.Location);
        }

        start.ArgumentList.Add(SuiteName);
        start.Environment[RecoveryProbeVariable] = directory;
        using var probe = Process.Start(start)!;
        var output = await probe.StandardOutput.ReadToEndAsync();
        await probe.WaitForExitAsync();
        report.Add(SuiteName, RecoveryCase, "pyralog", "open s", RecoveryProbeOutput.OpenSeconds(output, probe.ExitCode, RecoveryRecords), "s");
        report.Add(SuiteName, RecoveryCase, "pyralog", "wal MB", walBytes / BenchUnits.BytesPerMegabyte, "MB");
        report.Add(SuiteName, RecoveryCase, "pyralog", "records", RecoveryRecords, "records");
        Directory.Delete(directory, recursive: true);
    }

    private static async Task RecoveryProbeAsync(string directory)
    {
        var watch = Stopwatch.StartNew();
        await using var store = PyramidStore.Open(directory, RecoveryOptions);
        watch.Stop();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"recovery {watch.Elapsed.TotalSeconds} {store.GetLogBounds(1).Next}"));
    }

    private static async Task<(long Operations, double Seconds)> TimedAsync(LatencyRecorder latencies, Func<long, ValueTask<int>> operation)
    {
        long operations = 0;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < Budget)
        {
            var start = Stopwatch.GetTimestamp();
            if (await operation(operations) < 0)
            {
                throw new InvalidOperationException("a benchmark read found no value for a key it wrote");
            }

            latencies.Record(Stopwatch.GetTimestamp() - start);
            operations++;
        }

        return (operations, watch.Elapsed.TotalSeconds);
    }

    private static void AddRead(BenchReport report, string @case, string system, long operations, double seconds, LatencyRecorder latencies)
    {
        report.Add(SuiteName, @case, system, "records/s", operations / seconds, "records/s");
        report.Add(SuiteName, @case, system, "p50 us", latencies.PercentileMicros(50), "us");
        report.Add(SuiteName, @case, system, "p99 us", latencies.PercentileMicros(99), "us");
    }

    private static byte[] Key(long index)
    {
        var key = new byte[16];
        "kv-key--"u8.CopyTo(key);
        BinaryPrimitives.WriteInt64BigEndian(key.AsSpan(8), index);
        return key;
    }
}
