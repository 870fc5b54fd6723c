namespace Pyralog.Grains.Partitions;

/// <summary>How a partition grain's call waits for a signal (records applied, a producer's sequence advancing) without
/// holding its activation's deactivation or leaving anything behind on the signal when it gives up.</summary>
internal static class GrainWait
{
    /// <summary>
    /// Returns once <paramref name="signal"/> completes or <paramref name="deactivation"/> is cancelled; throws
    /// <see cref="TimeoutException"/> once <paramref name="left"/> (at once when not positive) passes first.
    /// </summary>
    /// <remarks><see cref="Task.WaitAsync(TimeSpan, TimeProvider, CancellationToken)"/> takes its continuation off the
    /// signal when it gives up. <c>Task.WhenAny(signal, …).WaitAsync(…)</c> did not: each poll that timed out on an idle
    /// partition left one on the partition's shared change signal until the next apply, which on a quiet partition
    /// tailed by a consumer never came.</remarks>
    public static async Task ForAsync(Task signal, TimeSpan left, TimeProvider time, CancellationToken deactivation)
    {
        try
        {
            await signal.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, time, deactivation).ConfigureAwait(true);
        }
        catch (OperationCanceledException) when (deactivation.IsCancellationRequested)
        {
        }
    }
}
