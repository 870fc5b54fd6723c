using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/// <summary>
/// Sends this silo's replicas home. A replica whose silo died runs, until it deactivates, on a survivor that usually
/// holds a sibling of its group; when its home silo (the one with its data, see ReplicaPlacementDirector) is active
/// again, the replica is asked to migrate there (<see cref="IRaftReplicaGrain.ReturnHomeAsync"/>) so that every group is
/// back on distinct silos and survives the next failure. The watcher checks the local replicas when membership
/// changes and when a replica activated here (one placed away while its home was down may finish activating after
/// the home came back: a new incarnation can wait seconds for an obelisk's lease), again every
/// <see cref="ReplicaTiming.HomecomingInterval"/> while any replica it asked is still here (a leader first hands over
/// its leadership; a follower of a leaderless group waits), and at least every <see cref="ReplicaTiming.HomecomingSweep"/>.
/// </summary>
internal sealed class ReplicaHomecoming(
    IClusterMembershipService membership, LocalReplicas replicas, IOptions<PyralogOptions> options, TimeProvider time, ILogger<ReplicaHomecoming> logger)
    : SiloWatch
{
    protected override async Task WatchAsync(CancellationToken stopping)
    {
        var timing = options.Value.Replication;
        using var timer = new PeriodicTimer(timing.HomecomingInterval, time);
        var seenVersion = MembershipVersion.MinValue;
        var seenAdditions = -1L;
        var lastSweep = time.GetTimestamp();
        var asked = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                var snapshot = membership.CurrentSnapshot;
                var additions = replicas.Additions;
                if (snapshot.Version == seenVersion && additions == seenAdditions && asked == 0 &&
                    time.GetElapsedTime(lastSweep) < timing.HomecomingSweep)
                {
                    continue;
                }

                seenVersion = snapshot.Version;
                seenAdditions = additions;
                lastSweep = time.GetTimestamp();
                asked = Sweep(snapshot);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            logger.LogError(e, "Stopped sending replicas home: replicas away from their silo stay where they are");
        }
    }

    /// <summary>Asks every local replica whose home is another active silo to return there (and every stand-in that shares
    /// this silo with a sibling while a free silo is live to go there); returns how many it asked.</summary>
    private int Sweep(ClusterMembershipSnapshot snapshot)
    {
        var asked = 0;
        foreach (var (key, metadata) in replicas.Active)
        {
            if (ReplicaGrainKey.TryParse(key, out var parsed) && replicas.BetterSiloElsewhere(parsed, snapshot) is { } home)
            {
                logger.LogDebug("Replica {Key} runs away from its home silo {Home}: asking it to return", key, home);
                _ = replicas.Grain(key, metadata).ReturnHomeAsync(); // one-way
                asked++;
            }
        }

        if (asked > 0)
        {
            logger.LogInformation("Asked {Count} replicas on this silo to return to their home silos", asked);
        }

        return asked;
    }
}
