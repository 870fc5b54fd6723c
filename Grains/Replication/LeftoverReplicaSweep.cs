using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Placement;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Replication;

/*
 * Leftover replica data: what a silo keeps of partition replicas that will not run here again. A replica drops its own
 * data when it is moved away or its log is deleted while it runs; what stays behind is the data of replicas that were
 * not running at that moment:
 *   - a silo that was down for longer than RehomeAfter comes back to find its replicas homed where they ran meanwhile;
 *   - a replica that stood in on this silo while its home was down went home, and left its copy here;
 *   - a log deleted, or a slot moved away, while this silo was down.
 * Every HomecomingSweep the silo lists the replicas its store holds and, on a fresh read of the metadata group, drops
 * those whose log no longer exists, whose slot no longer exists, or whose home is another silo that is active. It keeps
 * the metadata group's replicas (placed by rule, not by record), deleted logs' tombstones, replicas homed here, and
 * replicas whose home is down (this silo may stand in for them, and its copy saves a catch-up).
 *
 * Why dropping is safe: a replica that runs again here later finds no state, takes a fresh incarnation and rejoins its
 * group as a learner (see ReplicaGrain), exactly as on a silo that never held it; the old incarnation's vote is never
 * reused, so the group loses at most a copy it was not counting on. A copy homed on another, active silo is dropped
 * only once its group is known not to count it: its siblings whose logs are at least as up to date name another
 * incarnation as the slot's voter, and one of them at least answered (SiblingConfigurations). A stand-in that went home
 * is counted until its home incarnation replaces it, seconds later, and if its group lost another voter meanwhile, the
 * home incarnation gives way to this copy after twenty leaderless election timeouts (ReplicaGrain.GiveWay); a group
 * stuck longer, or unreachable, keeps the copy it may need for a majority, and the sweep says so. Two guards keep a
 * replica that is about to run here from having its state dropped under it: the store is listed before the metadata is
 * read (so a log created meanwhile is in the read) and a replica must be judged leftover by two passes in a row; and the
 * drop holds the silo's ReplicaDataGate, which an activation of the same replica must hold from before it reads its
 * state until it deactivates. A replica judged so twice while it runs here (its log deleted, or its slot moved away,
 * and the call that should have ended it lost) is asked to end itself: DeleteAsync, or RetireAsync, which checks the
 * slot's home afresh. A stand-in between two activations here after Orleans lost its directory entry (pinned
 * here, PinnedReplicas) is not dropped either: its group counts its incarnation, and its next activation is on its way
 * here.
 */
internal sealed class LeftoverReplicaSweep(
    SiloStore siloStore, ReplicaHomeTable homes, LocalReplicas replicas, PinnedReplicas pins, IClusterMembershipService membership, ILocalSiloDetails silo,
    IGrainFactory grains, IOptions<PyralogOptions> options, TimeProvider time, ILogger<LeftoverReplicaSweep> logger) : SiloWatch
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);

    // Invariant: the store logs the previous pass judged leftovers and did not drop; a store log is dropped only when the
    // next pass, on its own fresh read, judges it so again.
    private HashSet<ulong> _suspects = [];

    protected override async Task WatchAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(options.Value.Replication.HomecomingSweep, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try
                {
                    await SweepOnceAsync(stopping);
                }
                catch (Exception e) when (!stopping.IsCancellationRequested)
                {
                    logger.LogWarning(e, "Could not sweep leftover replica data on this silo; trying again in {Interval}", options.Value.Replication.HomecomingSweep);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The silo stops.
        }
    }

    /// <summary>One pass: returns how many replicas' leftover data it dropped.</summary>
    internal async Task<int> SweepOnceAsync(CancellationToken cancellationToken)
    {
        var store = siloStore.Store;
        var held = new List<ulong>();
        foreach (var storeLog in ReplicaKv.StoreLogsWithState(store))
        {
            if (ReplicaKv.ReplicaOf(storeLog).Log == 0)
            {
                continue;
            }

            try
            {
                if (await store.GetAsync(ReplicaKv.Key(storeLog, ReplicaKv.Deleted), cancellationToken) is null)
                {
                    held.Add(storeLog);
                }
            }
            catch (PyramidCorruptionException e)
            {
                // Kept and named; the pass goes on with the other copies.
                logger.LogWarning("Keeping the data of store log {StoreLog}: whether it was deleted cannot be read ({Reason})", storeLog, e.Message);
            }
        }

        if (held.Count == 0)
        {
            _suspects = [];
            return 0; // and no metadata read: on a new cluster it would found the metadata group before anyone uses it
        }

        var logs = new Dictionary<ulong, MetadataLog>();
        foreach (var log in await homes.ReadAllAsync().WaitAsync(ReadTimeout, time, cancellationToken))
        {
            logs[log.Info.Id] = log;
        }

        var snapshot = membership.CurrentSnapshot;
        var suspects = new HashSet<ulong>();
        var dropped = 0;
        foreach (var storeLog in held)
        {
            var (log, partition, slot) = ReplicaKv.ReplicaOf(storeLog);
            if (Leftover(logs, snapshot, log, partition, slot) is not { } reason)
            {
                continue;
            }

            if (!_suspects.Contains(storeLog))
            {
                suspects.Add(storeLog);
                continue;
            }

            var key = ReplicaGrainKey.Of(log, partition, slot);
            if (reason.HomedElsewhere && await CountedByItsGroupAsync(storeLog, logs[log].Info, partition, slot, cancellationToken) is { } counted)
            {
                suspects.Add(storeLog);
                logger.LogWarning("Keeping the data of replica {Key} (store log {StoreLog}) although {Reason}: {Counted}", key, storeLog, reason.Text, counted);
                continue;
            }

            if (silo.SiloAddress.Equals(pins.SiloOf(key)))
            {
                continue; // about to run here again (pinned here): not a leftover
            }

            if (!replicas.DataGate.TryClaimForDrop(key))
            {
                if (!reason.HomedElsewhere)
                {
                    // It runs here although its log is gone or its slot moved away: the call that should have ended it
                    // did not arrive (the admin's silo died during a delete, the mover's retire timed out). Left alone it
                    // runs for ever, a group member nothing counts or a group with no log, holding its data.
                    await EndRunningAsync(key, logs.ContainsKey(log), reason.Text);
                }

                continue; // it runs here now: not a leftover
            }

            try
            {
                using var write = new WriteBatch();
                ReplicaKv.DropAll(store, storeLog, write, tombstone: false);
                await store.WriteAsync(write, cancellationToken);
            }
            finally
            {
                replicas.DataGate.ReleaseDrop(key);
            }

            dropped++;
            logger.LogInformation("Dropped the leftover data of replica {Key} (store log {StoreLog}): {Reason}", key, storeLog, reason.Text);
        }

        _suspects = suspects;
        return dropped;
    }

    /// <summary>Asks a replica running here whose log was deleted (or, <paramref name="logExists"/>, whose slot moved away) to drop its data and deactivate.</summary>
    private async Task EndRunningAsync(string key, bool logExists, string reason)
    {
        try
        {
            var replica = grains.GetGrain<IPartitionReplicaGrain>(key);
            if (logExists)
            {
                await replica.RetireAsync().WaitAsync(ReadTimeout, time); // checks afresh that the slot has no home
            }
            else
            {
                await replica.DeleteAsync().WaitAsync(ReadTimeout, time);
            }

            logger.LogInformation("Ended replica {Key}, which ran here although {Reason}", key, reason);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException or InvalidOperationException)
        {
            logger.LogWarning(e, "Replica {Key} runs here although {Reason}, and did not end when asked; the next pass asks again", key, reason);
        }
    }

    /// <summary>Why the data of replica (<paramref name="log"/>, <paramref name="partition"/>, <paramref name="slot"/>) here is a leftover; null when it is not.</summary>
    private LeftoverReason? Leftover(Dictionary<ulong, MetadataLog> logs, ClusterMembershipSnapshot snapshot, ulong log, int partition, int slot)
    {
        if (!logs.TryGetValue(log, out var metadata))
        {
            return new LeftoverReason("its log no longer exists", HomedElsewhere: false);
        }

        var logHomes = metadata.Homes;
        if (logHomes is null || partition >= logHomes.Partitions)
        {
            return null; // homes not recorded (yet): placed by rule
        }

        var home = logHomes.Home(partition, slot);
        if (home is null)
        {
            return new LeftoverReason("its slot was moved away", HomedElsewhere: false);
        }

        if (home == silo.SiloAddress.Endpoint.ToString())
        {
            return null;
        }

        foreach (var member in snapshot.Members.Values)
        {
            if (member.Status == SiloStatus.Active && member.SiloAddress.Endpoint.ToString() == home)
            {
                return new LeftoverReason($"it is homed on {home}, which is active", HomedElsewhere: true);
            }
        }

        return null; // its home is down: this silo may stand in for it
    }

    /// <summary>
    /// Why the group of slot <paramref name="slot"/> may still count the copy in <paramref name="storeLog"/> as a voter (null
    /// when it does not): no sibling whose log is at least as up to date as the copy's answered, or one names the copy's
    /// incarnation (see <see cref="SiblingConfigurations.NameAnotherVoter"/>).
    /// </summary>
    private async Task<string?> CountedByItsGroupAsync(ulong storeLog, LogInfo info, int partition, int slot, CancellationToken cancellationToken)
    {
        ReplicaStorage copy;
        try
        {
            copy = await ReplicaStorage.OpenAsync(siloStore.Store, storeLog);
        }
        catch (Exception e) when (e is InvalidDataException or PyramidCorruptionException)
        {
            return $"its state cannot be read ({e.Message}), so whether its group counts it cannot be told";
        }

        var incarnation = copy.HardState.Incarnation;
        var lastIndex = copy.Metadata.LastIndex;
        var lastTerm = copy.Metadata.Term(lastIndex);
        var asks = new List<Task<ReplicaStatus>>();
        foreach (var sibling in info.ReplicaSlots(partition))
        {
            if (sibling != slot)
            {
                asks.Add(grains.GetGrain<IPartitionReplicaGrain>(info.ReplicaKey(partition, sibling)).GetStatusAsync().WaitAsync(ReadTimeout, time, cancellationToken));
            }
        }

        if (asks.Count == 0)
        {
            return null; // a group of one: the slot runs at its home, and nothing here can complete a majority
        }

        var statuses = await SiblingConfigurations.AnswersAsync(asks);
        cancellationToken.ThrowIfCancellationRequested();
        return SiblingConfigurations.NameAnotherVoter(slot, incarnation, lastTerm, lastIndex, statuses)
            ? null
            : $"its group may still count its incarnation {incarnation} as a voter (no sibling as up to date answered, or one names it)";
    }
}
