using System.Diagnostics;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// One failover trial, the same for every system: a producer sends one record at a time (each attempt bounded by
/// <see cref="ClusterSettings.AttemptTimeout"/>; a failed attempt goes to another server, chosen by the system's
/// <c>attempt</c>); once 100 records were acknowledged the leader's process is SIGKILLed; the unavailability is the
/// time from the kill to the acknowledgement of the first attempt that started after it.
/// </summary>
internal static class FailoverProbe
{
    /// <param name="attempt">One bounded attempt; true when acknowledged. It never throws for the attempt's failure.</param>
    /// <param name="kill">SIGKILLs the leader's process.</param>
    /// <returns>The unavailability in milliseconds.</returns>
    /// <exception cref="TimeoutException">No acknowledgement before the kill within 20 s, or none after it within 60 s.</exception>
    public static async Task<double> TrialAsync(Func<Task<bool>> attempt, Action kill, CancellationToken cancellationToken)
    {
        long killedAt = long.MaxValue, firstAfter = 0, acksBefore = 0;
        using var stop = new CancellationTokenSource();
        var producer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var start = Stopwatch.GetTimestamp();
                bool acknowledged;
                try
                {
                    acknowledged = await attempt().ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    ClusterSettings.Log($"failover attempt threw {e.GetType().Name}: {e.Message}");
                    acknowledged = false;
                }

                if (acknowledged)
                {
                    if (start > Volatile.Read(ref killedAt))
                    {
                        Interlocked.CompareExchange(ref firstAfter, Stopwatch.GetTimestamp(), 0);
                    }
                    else
                    {
                        Interlocked.Increment(ref acksBefore);
                    }
                }
                else
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(1), CancellationToken.None).ConfigureAwait(false);
                }
            }
        }, CancellationToken.None);

        try
        {
            await WaitUntilAsync(() => Interlocked.Read(ref acksBefore) >= 100, TimeSpan.FromSeconds(20), "100 acknowledged records before the kill", cancellationToken);
            Volatile.Write(ref killedAt, Stopwatch.GetTimestamp());
            kill();
            await WaitUntilAsync(() => Interlocked.Read(ref firstAfter) != 0, TimeSpan.FromSeconds(60), "a record acknowledged after the kill", cancellationToken);
            return Stopwatch.GetElapsedTime(killedAt, firstAfter).TotalMilliseconds;
        }
        finally
        {
            await stop.CancelAsync();
            await producer.WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        }
    }

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"waited {timeout.TotalSeconds:0} s for {what} in vain");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(1), cancellationToken);
        }
    }
}
