using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Pyralog.Silo.Http;

/// <summary>
/// Ready only while this silo is active in the cluster's membership (not joining, not shutting down, not declared dead)
/// and the process is not stopping: from the moment the host begins to stop, before Orleans drains the silo, so load
/// balancers stop routing to it for the whole drain rather than from its last moments.
/// </summary>
internal sealed class MembershipHealthCheck(IServiceProvider services, IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        // Resolved per check: the silo's services exist only once Orleans has built them.
        var membership = services.GetRequiredService<IClusterMembershipService>();
        var self = services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"silo {self} is stopping"));
        }

        var status = membership.CurrentSnapshot.GetSiloStatus(self);
        return Task.FromResult(status == SiloStatus.Active
            ? HealthCheckResult.Healthy($"silo {self} is active")
            : HealthCheckResult.Unhealthy($"silo {self} is {status.ToString().ToLowerInvariant()} in membership"));
    }
}
