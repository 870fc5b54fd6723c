using Microsoft.Extensions.Diagnostics.HealthChecks;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Silo.Http;

/// <summary>
/// Ready only while the metadata group answers (lists its logs, which needs its leader and a quorum). A success is
/// reused for <see cref="Fresh"/> so a scraper polling every second does not turn into a stream of grain calls; a
/// failure is never reused.
/// </summary>
internal sealed class MetadataGroupHealthCheck(IGrainFactory grains, TimeProvider time) : IHealthCheck
{
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    // Invariant: UTC ticks of the last call that answered, or 0.
    private long _answeredAt;
    private int _logs;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        if (now.UtcTicks - Interlocked.Read(ref _answeredAt) < Fresh.Ticks)
        {
            return HealthCheckResult.Healthy($"metadata group answered: {Volatile.Read(ref _logs)} logs");
        }

        try
        {
            var logs = await grains.GetGrain<IPyralogAdminGrain>(0).ListLogsAsync().WaitAsync(Timeout, time, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _logs, logs.Length);
            Interlocked.Exchange(ref _answeredAt, now.UtcTicks);
            return HealthCheckResult.Healthy($"metadata group answered: {logs.Length} logs");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"metadata group did not answer: {e.Message}");
        }
    }
}
