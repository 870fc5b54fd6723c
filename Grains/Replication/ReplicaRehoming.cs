using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Placement;

namespace Pyralog.Grains.Replication;

/*
 * Re-homing: a silo that died and does not come back must not keep its replicas' homes for ever. While its home silo
 * is down, a replica runs on another silo (placement picks one that is no other slot's home), rejoins its group there
 * as a new incarnation and is promoted once caught up: its data now lives there. Once the home silo has been gone for
 * RehomeAfter, the mover records that silo as the replica's home ("rehome" in the metadata group, refused if the home
 * changed meanwhile), so nothing waits for the dead silo any more and replica moves may balance the cluster again.
 *
 * Only a replica that is a caught-up voter of its group where it runs is re-homed: recording a home where the data is
 * not would send the replica back to an empty silo on its next activation. A silo that returns after its replicas were
 * re-homed finds them homed elsewhere: its copies are never activated there again, and LeftoverReplicaSweep drops them.
 * A stand-in that runs beside a sibling of its partition is never re-homed there (two slots on one silo); it moves to a
 * free silo first (LocalReplicas.BetterSiloElsewhere) and is re-homed there once caught up.
 */
internal sealed class ReplicaRehoming(IGrainFactory grains, ReplicaHomeTable homes, IOptions<PyralogOptions> options, TimeProvider time, ILogger<ReplicaRehoming> logger)
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    /// <summary>At most this many replicas are re-homed per round (each asks its group's replicas for their status).</summary>
    private const int PerRound = 32;

    // Invariant: per silo endpoint that some home names and that was not active at the last round, when this mover first
    // saw it so (a TimeProvider timestamp); a silo seen active again is removed.
    private readonly Dictionary<string, long> _goneSince = new(StringComparer.Ordinal);

    /// <summary>
    /// Forgets when silos were first seen gone: called while another silo's mover watches the cluster (this one does not
    /// lead the metadata group). A silo seen gone, then back and gone again while this mover did not look, must wait
    /// RehomeAfter again from when this mover next sees it gone, not from the first outage.
    /// </summary>
    public void Forget() => _goneSince.Clear();

    /// <summary>Re-homes the replicas whose home silo has been gone for RehomeAfter; <paramref name="present"/> are the silos that are not gone (active or stopping).</summary>
    public async Task RehomeAsync(IReadOnlyList<MetadataLog> logs, IReadOnlySet<string> present, CancellationToken stopping)
    {
        var after = options.Value.Replication.RehomeAfter;
        if (after == TimeSpan.Zero)
        {
            return;
        }

        var gone = new List<(MetadataLog Log, int Partition, int Slot, string Home)>();
        var named = new HashSet<string>(StringComparer.Ordinal);
        foreach (var log in logs)
        {
            if (log.Homes is not { } h || log.Info.State != LogState.Active)
            {
                continue;
            }

            named.UnionWith(h.Silos);
            for (var p = 0; p < h.Partitions; p++)
            {
                for (var slot = 0; slot < ReplicaGrainKey.MaxReplicationFactor && log.MoveIn(p) is null; slot++)
                {
                    if (h.Home(p, slot) is { } home && !present.Contains(home))
                    {
                        gone.Add((log, p, slot, home));
                    }
                }
            }
        }

        foreach (var endpoint in _goneSince.Keys.Where(e => present.Contains(e) || !named.Contains(e)).ToList())
        {
            _goneSince.Remove(endpoint);
        }

        var rehomed = 0;
        foreach (var (log, partition, slot, home) in gone)
        {
            if (!_goneSince.TryGetValue(home, out var since))
            {
                _goneSince[home] = time.GetTimestamp();
                continue;
            }

            if (time.GetElapsedTime(since) < after || rehomed >= PerRound)
            {
                continue;
            }

            try
            {
                rehomed += await RehomeAsync(log, partition, slot, home, present, stopping) ? 1 : 0;
            }
            catch (Exception e) when (e is TimeoutException or OrleansException or InvalidOperationException or NotLeaderException)
            {
                logger.LogDebug(e, "Replica {Key} was not re-homed this round", log.Info.ReplicaKey(partition, slot));
            }
        }
    }

    private async Task<bool> RehomeAsync(MetadataLog log, int partition, int slot, string home, IReadOnlySet<string> present, CancellationToken stopping)
    {
        // Where it runs (a call activates it on a live silo if it is not running), and whether its group counts it.
        var key = log.Info.ReplicaKey(partition, slot);
        var status = await grains.GetGrain<IPartitionReplicaGrain>(key).GetStatusAsync().WaitAsync(CallTimeout, stopping);
        var runsAt = SiloAddress.FromParsableString(status.Silo).Endpoint.ToString();
        if (!present.Contains(runsAt) || status.LeaderReplica < 0)
        {
            return false;
        }

        var leaderKey = log.Info.ReplicaKey(partition, status.LeaderReplica);
        var leader = status.Role == ReplicaRole.Leader ? status : await grains.GetGrain<IPartitionReplicaGrain>(leaderKey).GetStatusAsync().WaitAsync(CallTimeout, stopping);
        var voters = leader.VoterIncarnations;
        if (leader.Role != ReplicaRole.Leader || slot >= voters.Length || voters[slot] != status.Incarnation)
        {
            return false; // still catching up (or not rejoined yet): its data is not all there
        }

        var command = new MetadataCommand { Kind = "rehome", LogId = log.Info.Id, Partition = partition, From = slot, Silo = runsAt, PreviousSilo = home };
        var result = await grains.GetGrain<IMetadataAdminGrain>(0).CommitMetadataAsync(command.Encode()).WaitAsync(CallTimeout, stopping);
        if (result.Error is { } error)
        {
            logger.LogDebug("Replica {Key} was not re-homed: {Error}", key, error);
            return false;
        }

        homes.Learn(log.Info.Id, result.Log?.Homes);
        logger.LogInformation("Replica {Key} now lives at {Silo}: its home silo {Home} has been gone for {After}", key, runsAt, home, options.Value.Replication.RehomeAfter);
        return true;
    }
}
