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

    /// <summary>Waits (up to <paramref name="within"/>, 30 s by default) until <paramref name="condition"/> holds, checking every 20 ms.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting until {what}");
            }

            await Task.Delay(20);
        }
    }
}
