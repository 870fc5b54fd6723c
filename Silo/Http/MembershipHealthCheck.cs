using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Pyralog.Silo.Http;

/// <summary>Ready only while this silo is active in the cluster's membership (not joining, not shutting down, not declared dead).</summary>
internal sealed class MembershipHealthCheck(IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        // Resolved per check: the silo's services exist only once Orleans has built them.
        var membership = services.GetRequiredService<IClusterMembershipService>();
        var self = services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
        var status = membership.CurrentSnapshot.GetSiloStatus(self);
        return Task.FromResult(status == SiloStatus.Active
            ? HealthCheckResult.Healthy($"silo {self} is active")
            : HealthCheckResult.Unhealthy($"silo {self} is {status.ToString().ToLowerInvariant()} in membership"));
    }
}
