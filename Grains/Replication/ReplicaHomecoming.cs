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
/// the home came back: a new incarnation can wait seconds for an obelisk's lease), each time
/// <see cref="ReplicaTiming.HomecomingInterval"/> after the first such event (one check serves a burst), again every
/// HomecomingInterval while any replica it asked is still here (a leader first hands over its leadership; a follower
/// of a leaderless group waits), and at least every <see cref="ReplicaTiming.HomecomingSweep"/>.
/// </summary>
internal sealed class ReplicaHomecoming(
    IClusterMembershipService membership, LocalReplicas replicas, IOptions<PyralogOptions> options, TimeProvider time, ILogger<ReplicaHomecoming> logger)
    : SiloWatch
{
    protected override async Task WatchAsync(CancellationToken stopping)
    {
        var timing = options.Value.Replication;
        var seenVersion = MembershipVersion.MinValue;
        var seenAdditions = -1L;
        var lastSweep = time.GetTimestamp();
        var asked = 0;
        try
        {
            // Woken by what can send a replica home (a membership change, a replica activated here), not by a clock:
            // an idle silo's thread pool sleeps until then (each wake-up costs a worker's spin), and at least every
            // HomecomingSweep.
            await using var updates = membership.MembershipUpdates.GetAsyncEnumerator(stopping);
            var nextUpdate = updates.MoveNextAsync().AsTask();
            while (true)
            {
                var nextAddition = replicas.NextAddition; // before reading Additions: an addition after the read completes it
                var snapshot = membership.CurrentSnapshot;
                var additions = replicas.Additions;
                if (snapshot.Version != seenVersion || additions != seenAdditions || asked > 0 ||
                    time.GetElapsedTime(lastSweep) >= timing.HomecomingSweep)
                {
                    seenVersion = snapshot.Version;
                    seenAdditions = additions;
                    lastSweep = time.GetTimestamp();
                    asked = Sweep(snapshot);
                }

                var wait = asked > 0 ? timing.HomecomingInterval : timing.HomecomingSweep - time.GetElapsedTime(lastSweep);
                using (var waiting = CancellationTokenSource.CreateLinkedTokenSource(stopping))
                {
                    var timeout = Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, time, waiting.Token);
                    var woke = await Task.WhenAny(nextAddition, nextUpdate, timeout);
                    await waiting.CancelAsync();
                    if (woke == nextUpdate)
                    {
                        if (!await nextUpdate)
                        {
                            return; // the membership service stopped: the silo is shutting down
                        }

                        nextUpdate = updates.MoveNextAsync().AsTask();
                    }

                    if (woke != timeout)
                    {
                        // Activations and membership changes come in bursts (a log's creation, a silo's return): one
                        // sweep after HomecomingInterval serves the whole burst.
                        await Task.Delay(timing.HomecomingInterval, time, stopping);
                    }
                }

                stopping.ThrowIfCancellationRequested();
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
