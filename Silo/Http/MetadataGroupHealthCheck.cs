using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Silo.Http;

/// <summary>
/// Ready only while the metadata group answers (lists its logs, which needs its leader and a quorum). A success is
/// reused for <see cref="Fresh"/> so a scraper polling every second does not turn into a stream of grain calls; a
/// failure is never reused. While the process stops it asks nothing: a call then could wait out its timeout on grains
/// being deactivated, and the readiness answer (which waits for every check) with it, so a load balancer got no 503 at all
/// from a silo that stopped within that time.
/// </summary>
internal sealed class MetadataGroupHealthCheck(IGrainFactory grains, TimeProvider time, IHostApplicationLifetime lifetime) : IHealthCheck
{
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    // Invariant: the last call that answered (null before one), timed by the monotonic TimeProvider.GetTimestamp: with
    // wall-clock time, a clock stepped back (NTP, a restored VM) would keep a stale success fresh for as long.
    private Answer? _answered;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("the silo is stopping: the metadata group is not asked");
        }

        var now = time.GetTimestamp();
        if (Volatile.Read(ref _answered) is { } answered && time.GetElapsedTime(answered.At, now) < Fresh)
        {
            return HealthCheckResult.Healthy($"metadata group answered: {answered.Logs} logs");
        }

        try
        {
            var logs = await grains.GetGrain<IPyralogAdminGrain>(0).ListLogsAsync().WaitAsync(Timeout, time, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _answered, new Answer(now, logs.Length));
            return HealthCheckResult.Healthy($"metadata group answered: {logs.Length} logs");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"metadata group did not answer: {e.Message}");
        }
    }

    private sealed record Answer(long At, int Logs);
}
