using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Pyralog.Grains.Tests.Hosting;

/// <summary>Waits on what the in-process silos of a test cluster know.</summary>
internal static class ClusterWaits
{
    /// <summary>
    /// Waits (up to 30 s) until every live silo's membership lists <paramref name="silo"/> as dead. Calls made before
    /// then can be routed through the dead silo (its gateway, its part of the grain directory) and wait out Orleans'
    /// response timeout; a test of what happens after a failure starts here.
    /// </summary>
    public static async Task DeclaredDeadAsync(TestCluster cluster, SiloAddress silo)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var known = true;
            foreach (var live in cluster.Silos)
            {
                var membership = ((InProcessSiloHandle)live).SiloHost.Services.GetRequiredService<IClusterMembershipService>();
                known &= membership.CurrentSnapshot.GetSiloStatus(silo) == SiloStatus.Dead;
            }

            if (known)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"silo {silo} was not declared dead by every live silo within 30 s");
            }

            await Task.Delay(50);
        }
    }
}
