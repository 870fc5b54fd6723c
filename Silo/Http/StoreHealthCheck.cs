using Microsoft.Extensions.Diagnostics.HealthChecks;
using Pyralog.Grains.Hosting;

namespace Pyralog.Silo.Http;

/// <summary>Ready only while the silo's store is open and accepts writes: it opens (recovery included) before grains activate and closes after they deactivate.</summary>
internal sealed class StoreHealthCheck(SiloStore store) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            if (store.Failure is { } failure)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy($"the store stopped accepting writes after a failure ({failure.Message}); the silo stops"));
            }

            var logs = store.Store.GetLogIds().Count;
            return Task.FromResult(HealthCheckResult.Healthy($"store open with {logs} logs"));
        }
        catch (InvalidOperationException e)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy(e.Message));
        }
    }
}
