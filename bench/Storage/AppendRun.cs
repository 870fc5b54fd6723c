using Pyralog.Bench.Harness;

namespace Pyralog.Bench.Storage;

/// <summary>Durable appends, one batch after another, for a time budget: the storage suite's append cases and the partition suite's engine floor.</summary>
internal static class AppendRun
{
    /// <summary>
    /// Before a write case is measured on a fresh store, the same writes run for this long on a throwaway store of the same
    /// system: the JIT tiers the managed write path up in its first second of load, which a 2 s budget measured too (for
    /// Pyralog's whole engine; for RocksDB only its thin binding).
    /// </summary>
    public static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(1);

    /// <summary>Appends for <see cref="WarmUp"/> to a throwaway store that <paramref name="create"/> opens in
    /// <paramref name="directory"/>, then closes it and deletes the directory.</summary>
    public static async Task WarmUpAsync(Func<string, IStorageTarget> create, string directory, byte[][] payloads, int batch, TimeProvider time)
    {
        var target = create(directory);
        try
        {
            await RunAsync(target, payloads, batch, WarmUp, latencies: null, time);
        }
        finally
        {
            await target.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// Back to back (<paramref name="batchesPerSecond"/> 0): appends until <paramref name="budget"/> has passed, the last
    /// one (started inside it) included. Paced: one batch per interval, every batch scheduled inside the budget issued
    /// and timed from its scheduled start, however late a stall makes it (no coordinated omission), so a stall near the
    /// end is recorded with the backlog behind it. Seconds run until the last append completed.
    /// </summary>
    public static async Task<(long Records, double Seconds)> RunAsync(
        IStorageTarget target, byte[][] payloads, int batch, TimeSpan budget, LatencyRecorder? latencies, TimeProvider time, int batchesPerSecond = 0)
    {
        long records = 0;
        var origin = time.GetTimestamp();
        if (batchesPerSecond > 0)
        {
            var interval = time.TimestampFrequency / batchesPerSecond;
            var end = origin + (long)(budget.TotalSeconds * time.TimestampFrequency);
            for (var scheduled = origin; scheduled < end; scheduled += interval)
            {
                WaitUntil(time, scheduled);
                await target.AppendAsync(records, payloads, batch);
                latencies?.Record(time.GetTimestamp() - scheduled, time.TimestampFrequency);
                records += batch;
            }
        }
        else
        {
            while (time.GetElapsedTime(origin) < budget)
            {
                var start = time.GetTimestamp();
                await target.AppendAsync(records, payloads, batch);
                latencies?.Record(time.GetTimestamp() - start, time.TimestampFrequency);
                records += batch;
            }
        }

        return (records, time.GetElapsedTime(origin).TotalSeconds);
    }

    /// <summary>Waits for <paramref name="at"/> (sleeping while over 1.5 ms remain, then yielding).</summary>
    private static void WaitUntil(TimeProvider time, long at)
    {
        var sleepable = time.TimestampFrequency * 3 / 2000;
        while (time.GetTimestamp() is var now && now < at)
        {
            if (at - now > sleepable)
            {
                Thread.Sleep(1);
            }
            else
            {
                Thread.Yield();
            }
        }
    }
}
