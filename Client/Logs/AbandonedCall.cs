namespace Pyralog.Client.Logs;

/// <summary>A call whose answer nobody awaits any more (a timed-out request, a hedge that lost, a background refresh).</summary>
internal static class AbandonedCall
{
    /// <summary>Observes the call's failure, whenever it comes, so it is not reported as an unobserved task exception.</summary>
    public static void Observe(Task call) =>
        _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
