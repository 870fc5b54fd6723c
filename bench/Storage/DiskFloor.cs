using System.Diagnostics;
using Pyralog.Bench.Harness;
using Pyralog.Storage.Native;
using Pyralog.Storage.Native.Wal;

namespace Pyralog.Bench.Storage;

/// <summary>
/// What the disk itself allows, measured the way the engines use it: writes each followed by fdatasync, into files
/// allocated before the timing starts, as the engine's WAL writes into preallocated or recycled files (see
/// <see cref="FloorFile"/>).
/// </summary>
internal static class DiskFloor
{
    /// <summary>
    /// Bandwidth of 1 MiB writes each made durable with fdatasync (the shape of a 1000 × 1 KiB batch), round and round
    /// a file the size of a memtable's WAL.
    /// </summary>
    public static double SequentialWriteMegabytesPerSecond(string directory, TimeSpan budget)
    {
        var chunk = new byte[1 << 20];
        Random.Shared.NextBytes(chunk);
        long written = 0;
        using var file = new FloorFile(Path.Combine(directory, "floor-seq.bin"), new PyramidOptions().MemtableBytes);
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < budget)
        {
            file.WriteAndSync(chunk);
            written += chunk.Length;
        }

        return BenchUnits.MegabytesPerSecond(written, watch.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Latency of a small write plus fdatasync (the shape of a single-record durable append), with
    /// <paramref name="streams"/> threads each writing to a file of its own (a new WAL's preallocated size) at once:
    /// three are what a partition's three replicas on one machine's disk ask of it.
    /// </summary>
    public static LatencyRecorder SyncLatency(string directory, TimeSpan budget, int streams = 1)
    {
        var latencies = new LatencyRecorder(1 << 20);
        var files = new List<FloorFile>(streams);
        try
        {
            // Every file is filled and synced before any stream starts timing: a fill must not share the disk with the syncs.
            for (var s = 0; s < streams; s++)
            {
                files.Add(new FloorFile(Path.Combine(directory, $"floor-fsync-{s}.bin"), WriteAheadLog.PreallocatedBytes));
            }

            var threads = files.Select((file, s) => new Thread(() => WriteAndSync(file, budget, latencies)) { IsBackground = true, Name = $"floor-fsync-{s}" }).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
        }
        finally
        {
            files.ForEach(f => f.Dispose());
        }

        return latencies;
    }

    private static void WriteAndSync(FloorFile file, TimeSpan budget, LatencyRecorder latencies)
    {
        var record = new byte[128];
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < budget)
        {
            var start = Stopwatch.GetTimestamp();
            file.WriteAndSync(record);
            latencies.Record(Stopwatch.GetTimestamp() - start);
        }
    }
}
