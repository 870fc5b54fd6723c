using System.Diagnostics;
using Pyralog.Bench.Harness;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// Keeps a fixed number of records in flight against any system: <c>window</c> loops, each producing one record and
/// awaiting its acknowledgement before the next, so exactly <c>window</c> records are outstanding at every moment (the
/// window of outstanding acks). The same driver runs every system; a record's latency is from the call to its
/// acknowledgement. Records acknowledged in the measured span (after the warm-up) count toward records/s; latency is
/// taken of every record started in it, however late it is acknowledged (a stall across the end must not drop the
/// slowest records: <see cref="Counts"/>). The CPU time of this process (the harness and the system's client) and of
/// the system's server processes is sampled when the measured span starts and when it ends.
/// The harness keeps out of the measured system's way: each loop counts and buffers its latencies by itself and hands
/// them over in blocks, and a record's start is the previous one's acknowledgement time (one clock read per record).
/// Counters shared by all loops cost the client's cores a cache line passed between them on every record (with one
/// partition at RF 3 the driver's loop was 4.5 % of all CPU, about as much as the client's producer).
/// </summary>
internal static class LoadDriver
{
    private const int LatencyBlock = 256;

    /// <summary>Latency samples one run holds: 8.4 M, about 18 s of the fastest system's window (456,000 records/s).</summary>
    private const int LatencySamples = 1 << 23;

    /// <summary>
    /// What a record started at <paramref name="start"/> and acknowledged at <paramref name="acked"/> counts toward in the
    /// span [<paramref name="from"/>, <paramref name="end"/>): records/s when acknowledged inside it, latency when started inside it.
    /// </summary>
    internal static (bool Rate, bool Latency) Counts(long start, long acked, long from, long end) =>
        (acked >= from && acked <= end, start >= from && start < end);

    /// <param name="produce">Produces record number <c>n</c> (every number once across the loops: loop <c>i</c> takes i, i + window, i + 2 window, …) and completes when it is acknowledged; throws when it was not.</param>
    /// <param name="servers">The process ids of the system's servers at the moment asked.</param>
    public static async Task<LoadResult> RunAsync(int window, TimeSpan warmup, TimeSpan measure, Func<long, Task> produce, Func<IEnumerable<int>> servers, CancellationToken cancellationToken)
    {
        var cpuAtStart = CpuAfterAsync(warmup, servers, cancellationToken);
        var cpuAtEnd = CpuAfterAsync(warmup + measure, servers, cancellationToken);
        var latencies = new LatencyRecorder(LatencySamples);
        var failures = new LoadFailures();
        var measureFrom = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        var end = measureFrom + (long)(measure.TotalSeconds * Stopwatch.Frequency);
        var loops = new Task<(long Acknowledged, long Counted)>[window];
        for (var loop = 0; loop < window; loop++)
        {
            var first = loop;
            loops[loop] = Task.Run(async () =>
            {
                long n = first, acknowledged = 0, counted = 0;
                var buffered = new long[LatencyBlock];
                var count = 0;
                var start = Stopwatch.GetTimestamp();
                while (start < end && !cancellationToken.IsCancellationRequested && !failures.GaveUp)
                {
                    try
                    {
                        await produce(n).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                    {
                        failures.Add(e);
                        n += window;
                        start = Stopwatch.GetTimestamp();
                        continue;
                    }

                    n += window;
                    var acked = Stopwatch.GetTimestamp();
                    acknowledged++;
                    var (rate, latency) = Counts(start, acked, measureFrom, end);
                    if (rate)
                    {
                        counted++;
                    }

                    if (latency)
                    {
                        buffered[count++] = acked - start;
                        if (count == LatencyBlock)
                        {
                            latencies.RecordMany(buffered);
                            count = 0;
                        }
                    }

                    start = acked;
                }

                latencies.RecordMany(buffered.AsSpan(0, count));
                return (acknowledged, counted);
            }, CancellationToken.None);
        }

        var tallies = await Task.WhenAll(loops).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        long acknowledgedAll = 0, countedAll = 0;
        foreach (var (acknowledged, counted) in tallies)
        {
            acknowledgedAll += acknowledged;
            countedAll += counted;
        }

        var failed = failures.Count;
        if (failed > 0)
        {
            ClusterSettings.Log($"{failed} records were not acknowledged; first error: {failures.First?.GetType().Name}: {failures.First?.Message}");
            if (failures.GaveUp)
            {
                throw new InvalidOperationException($"gave up after {failed} failed records", failures.First);
            }
        }

        var (clientStart, serverStart) = await cpuAtStart.ConfigureAwait(false);
        var (clientEnd, serverEnd) = await cpuAtEnd.ConfigureAwait(false);
        return new LoadResult(countedAll, measure, latencies, acknowledgedAll, failed, clientEnd - clientStart, serverEnd - serverStart);
    }

    /// <summary>CPU time used so far by this process and by the servers, sampled <paramref name="delay"/> from now.</summary>
    private static async Task<(TimeSpan Client, TimeSpan Servers)> CpuAfterAsync(TimeSpan delay, Func<IEnumerable<int>> servers, CancellationToken cancellationToken)
    {
        await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        return (ProcessUsage.CpuTime([Environment.ProcessId]), ProcessUsage.CpuTime(servers()));
    }
}
