using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Silo.Http;

/// <summary>
/// Ready only while the metadata group answers (lists its logs, which needs its leader and a quorum). Checks share one
/// call: while it runs, every check waits for it; a success is reused for <see cref="Fresh"/> so a scraper polling every
/// second does not turn into a stream of grain calls, and a failure for <see cref="FailureFresh"/>, because during an
/// outage each call keeps retrying inside the admin grain long after the check gave up, and probes from several sources
/// would pile calls on a group trying to elect. While the process stops it asks nothing: a call then could wait out its
/// timeout on grains being deactivated, and the readiness answer (which waits for every check) with it, so a load
/// balancer got no 503 at all from a silo that stopped within that time.
/// </summary>
internal sealed class MetadataGroupHealthCheck(IGrainFactory grains, TimeProvider time, IHostApplicationLifetime lifetime) : IHealthCheck
{
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan FailureFresh = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    // Invariant: the call in flight or the last one (null before one); it never faults. Its answer is timed by the
    // monotonic TimeProvider.GetTimestamp: with wall-clock time, a clock stepped back (NTP, a restored VM) would keep a
    // stale answer fresh for as long.
    private Task<Answer>? _asking;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("the silo is stopping: the metadata group is not asked");
        }

        var answer = await Current(time.GetTimestamp()).WaitAsync(cancellationToken).ConfigureAwait(false);
        return answer.Result;
    }

    // The call in flight or a fresh answer, else a new call: of checks that find none, one starts it and the rest share it.
    private Task<Answer> Current(long now)
    {
        while (true)
        {
            var seen = Volatile.Read(ref _asking);
            if (seen is { IsCompleted: false } || (seen is { Result: var answer } && time.GetElapsedTime(answer.At, now) < answer.ReusedFor))
            {
                return seen;
            }

            var asking = new TaskCompletionSource<Answer>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (Interlocked.CompareExchange(ref _asking, asking.Task, seen) == seen)
            {
                _ = AskAsync(asking, now);
                return asking.Task;
            }
        }
    }

    // Not bound to one check's cancellation: the call is shared, and each check stops waiting on its own token.
    private async Task AskAsync(TaskCompletionSource<Answer> asking, long startedAt)
    {
        Answer answer;
        try
        {
            var logs = await grains.GetGrain<IPyralogAdminGrain>(0).ListLogsAsync().WaitAsync(Timeout, time).ConfigureAwait(false);
            answer = new Answer(HealthCheckResult.Healthy($"metadata group answered: {logs.Length} logs"), startedAt, Fresh);
        }
        catch (Exception e)
        {
            // From when it failed: a call that timed out after 5 s is otherwise stale as soon as it ends.
            answer = new Answer(HealthCheckResult.Unhealthy($"metadata group did not answer: {e.Message}"), time.GetTimestamp(), FailureFresh);
        }

        asking.SetResult(answer);
    }

    private sealed record Answer(HealthCheckResult Result, long At, TimeSpan ReusedFor);
}
