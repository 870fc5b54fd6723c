using System.Diagnostics;
using Pyralog.Bench.Harness;
using Pyralog.Storage.Native.Native;

namespace Pyralog.Bench.Storage;

/// <summary>What the disk itself allows, measured the way the engines use it: appending writes each followed by fdatasync.</summary>
internal static class DiskFloor
{
    /// <summary>Bandwidth of 1 MiB appends each made durable with fdatasync (the shape of a 1000 × 1 KiB batch).</summary>
    public static double SequentialWriteMegabytesPerSecond(string directory, TimeSpan budget)
    {
        var path = Path.Combine(directory, "floor-seq.bin");
        var chunk = new byte[1 << 20];
        Random.Shared.NextBytes(chunk);
        long written = 0;
        using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < budget)
            {
                RandomAccess.Write(handle, chunk, written);
                LibC.SyncData(handle, path);
                written += chunk.Length;
            }

            File.Delete(path);
            return written / 1048576.0 / watch.Elapsed.TotalSeconds;
        }
    }

    /// <summary>
    /// Latency of a small append plus fdatasync (the shape of a single-record durable append), with
    /// <paramref name="streams"/> threads each appending to a file of its own at once: three are what a partition's three
    /// replicas on one machine's disk ask of it.
    /// </summary>
    public static LatencyRecorder SyncLatency(string directory, TimeSpan budget, int streams = 1)
    {
        var latencies = new LatencyRecorder(1 << 20);
        var threads = new Thread[streams];
        for (var s = 0; s < streams; s++)
        {
            var path = Path.Combine(directory, $"floor-fsync-{s}.bin");
            threads[s] = new Thread(() => AppendAndSync(path, budget, latencies)) { IsBackground = true, Name = $"floor-fsync-{s}" };
            threads[s].Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        return latencies;
    }

    private static void AppendAndSync(string path, TimeSpan budget, LatencyRecorder latencies)
    {
        var record = new byte[128];
        long position = 0;
        using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < budget)
            {
                var start = Stopwatch.GetTimestamp();
                RandomAccess.Write(handle, record, position);
                LibC.SyncData(handle, path);
                latencies.Record(Stopwatch.GetTimestamp() - start);
                position += record.Length;
            }
        }

        File.Delete(path);
    }
}
