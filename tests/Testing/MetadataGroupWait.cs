using System.Diagnostics;
using Orleans;
using Orleans.Runtime;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Testing;

/// <summary>
/// Waits until the metadata group is whole: a leader, every replica a voter (not a learner still catching up) and, where
/// the cluster has a silo for each, every replica on a silo of its own. A fault test must not start before: a group
/// founded while one silo was still joining runs two replicas on one silo until a replica has returned to its home, and
/// a kill of that silo then takes its majority for good (a test that killed the leader's silo 1.5 s after its cluster
/// started found no metadata leader for the rest of its run).
/// </summary>
public static class MetadataGroupWait
{
    public static async Task WholeAsync(IPyralogAdminGrain admin, bool ownSilos, TimeSpan timeout, Func<string, string>? siloName = null)
    {
        var watch = Stopwatch.StartNew();
        var missing = "no status yet";
        while (watch.Elapsed < timeout)
        {
            try
            {
                var group = await admin.DescribeMetadataGroupAsync().WaitAsync(TimeSpan.FromSeconds(10));
                if (group.LeaderReplica >= 0 && (!ownSilos || !group.SharedSilos) &&
                    group.Replicas.All(r => r.Error is null && r.Role is ReplicaRole.Leader or ReplicaRole.Follower))
                {
                    return;
                }

                missing = $"leader {group.LeaderReplica}, replicas {string.Join(", ", group.Replicas.Select(r => $"{r.Replica}={r.Role} on silo {(siloName is null ? r.Silo : siloName(r.Silo))}{(r.Error is null ? "" : $" ({r.Error})")}"))}";
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                missing = $"{e.GetType().Name}: {e.Message}";
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }

        throw new TimeoutException($"the metadata group was not whole within {timeout.TotalSeconds:0} s: {missing}");
    }
}
