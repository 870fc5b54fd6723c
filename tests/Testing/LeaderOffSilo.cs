using Orleans;
using Pyralog.Grains.Interfaces.Logs;
using Xunit;

namespace Pyralog.Testing;

/// <summary>
/// Partition 0 of a log led on a silo other than one the test must keep (the test cluster's primary holds the membership
/// table). Where a new group's leader starts is a hash of the silos' random ports, so a leader found on that silo hands
/// its leadership to a caught-up sibling elsewhere.
/// </summary>
public static class LeaderOffSilo
{
    /// <summary>The status of partition 0's leader once it runs on a silo other than <paramref name="silo"/>.</summary>
    public static async Task<ReplicaStatus> MoveAsync(IGrainFactory grains, LogInfo log, string silo)
    {
        var replicas = log.ReplicaSlots(0).Select(r => grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, r))).ToArray();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var statuses = await Task.WhenAll(replicas.Select(r => r.GetStatusAsync()));
            var leader = Array.FindIndex(statuses, s => s.Role == ReplicaRole.Leader);
            if (leader >= 0 && statuses[leader].Silo != silo)
            {
                return statuses[leader];
            }

            Assert.True(DateTime.UtcNow < deadline, $"partition 0 of log '{log.Name}' had no leader off silo {silo} within 30 s");
            var sibling = Array.FindIndex(statuses, s => s.Role == ReplicaRole.Follower && s.Silo != silo);
            if (leader >= 0 && sibling >= 0)
            {
                await replicas[leader].HandLeadershipToAsync(sibling); // refused while the sibling is not caught up: asked again
            }

            await Task.Delay(50);
        }
    }
}
