using Microsoft.Extensions.Logging;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/// <summary>
/// Wakes this silo's replicas when a silo of the cluster dies. A quiesced group ticks no timer, so without this a dead
/// leader would go unnoticed until the next append or read reached one of its followers; woken, the followers resume
/// their election timers (and ask their leader to resume heartbeats) and elect a new leader within an election timeout
/// if the old one is gone. Waking is a message to each replica's own grain, so it runs in the replica's turn.
/// </summary>
internal sealed class ReplicaWakeups(IClusterMembershipService membership, LocalReplicas replicas, ILogger<ReplicaWakeups> logger)
    : SiloWatch
{
    private static readonly RaftEnvelope WakeEnvelope = new(-1, MessageCodec.Encode([]), Wake: true);

    protected override async Task WatchAsync(CancellationToken stopping)
    {
        var dead = new HashSet<SiloAddress>();
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stopping))
            {
                var newlyDead = 0;
                foreach (var member in snapshot.Members.Values)
                {
                    if (member.Status == SiloStatus.Dead && dead.Add(member.SiloAddress))
                    {
                        newlyDead++;
                    }
                }

                if (newlyDead > 0)
                {
                    WakeAll();
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            logger.LogError(e, "Stopped watching the cluster's membership: quiesced replicas on this silo wake only on their next message");
        }
    }

    private void WakeAll()
    {
        var woken = 0;
        foreach (var (key, metadata) in replicas.Active)
        {
            _ = replicas.Grain(key, metadata).DeliverAsync(WakeEnvelope); // one-way
            woken++;
        }

        logger.LogInformation("A silo died: woke {Count} replicas on this silo", woken);
    }
}
