using System.Diagnostics;
using Pyralog.Bench.Harness;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// Keeps a fixed number of records in flight against any system: <c>window</c> loops, each producing one record and
/// awaiting its acknowledgement before the next, so exactly <c>window</c> records are outstanding at every moment (the
/// window of outstanding acks). The same driver runs every system; a record's latency is from the call to its
/// acknowledgement. Records acknowledged in the measured span (after the warm-up) count toward records/s; latency is
/// taken of those that also started in it. The CPU time of this process (the harness and the system's client) and of
/// the system's server processes is sampled when the measured span starts and when it ends.
/// </summary>
internal static class LoadDriver
{
    /// <param name="produce">Produces record number <c>n</c> (0, 1, 2, … across all loops) and completes when it is acknowledged; throws when it was not.</param>
    /// <param name="servers">The process ids of the system's servers at the moment asked.</param>
    public static async Task<LoadResult> RunAsync(int window, TimeSpan warmup, TimeSpan measure, Func<long, Task> produce, Func<IEnumerable<int>> servers, CancellationToken cancellationToken)
    {
        var cpuAtStart = CpuAfterAsync(warmup, servers, cancellationToken);
        var cpuAtEnd = CpuAfterAsync(warmup + measure, servers, cancellationToken);
        var latencies = new LatencyRecorder(1 << 22);
        long next = -1, counted = 0, acknowledged = 0, failed = 0;
        Exception? firstError = null;
        var measureFrom = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        var end = measureFrom + (long)(measure.TotalSeconds * Stopwatch.Frequency);
        var loops = Enumerable.Range(0, window).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < end && !cancellationToken.IsCancellationRequested && Interlocked.Read(ref failed) < 100)
            {
                var n = Interlocked.Increment(ref next);
                var start = Stopwatch.GetTimestamp();
                try
                {
                    await produce(n).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    Interlocked.CompareExchange(ref firstError, e, null);
                    Interlocked.Increment(ref failed);
                    continue;
                }

                var acked = Stopwatch.GetTimestamp();
                Interlocked.Increment(ref acknowledged);
                if (acked >= measureFrom && acked <= end)
                {
                    Interlocked.Increment(ref counted);
                    if (start >= measureFrom)
                    {
                        latencies.Record(acked - start);
                    }
                }
            }
        }, CancellationToken.None)).ToArray();
        await Task.WhenAll(loops).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        if (failed > 0)
        {
            ClusterSettings.Log($"{failed} records were not acknowledged; first error: {firstError?.GetType().Name}: {firstError?.Message}");
            if (failed >= 100)
            {
                throw new InvalidOperationException($"gave up after {failed} failed records", firstError);
            }
        }

        var (clientStart, serverStart) = await cpuAtStart.ConfigureAwait(false);
        var (clientEnd, serverEnd) = await cpuAtEnd.ConfigureAwait(false);
        return new LoadResult(counted, measure, latencies, acknowledged, failed, clientEnd - clientStart, serverEnd - serverStart);
    }

    /// <summary>CPU time used so far by this process and by the servers, sampled <paramref name="delay"/> from now.</summary>
    private static async Task<(TimeSpan Client, TimeSpan Servers)> CpuAfterAsync(TimeSpan delay, Func<IEnumerable<int>> servers, CancellationToken cancellationToken)
    {
        await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        return (ProcessUsage.CpuTime([Environment.ProcessId]), ProcessUsage.CpuTime(servers()));
    }
}
