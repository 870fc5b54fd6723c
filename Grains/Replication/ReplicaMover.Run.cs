using Microsoft.Extensions.Logging;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;

namespace Pyralog.Grains.Replication;

// One move's run, steps 1 to 6 of ReplicaMover.cs's design comment, and its abandon: the checks that keep two runs of a
// move from removing both of its slots are there.
internal sealed partial class ReplicaMover
{
    /// <summary>Runs one move to its end; false when it was not started or was abandoned (the next round, not this one's end, plans again).</summary>
    private async Task<bool> MoveAsync(ulong logId, int partition, int from, int to, string target, CancellationToken stopping)
    {
        var admin = _grains.GetGrain<IMetadataAdminGrain>(0);
        var started = _time.GetTimestamp();
        var timeout = _options.Value.Replication.ReplicaMoveTimeout;
        var fromKey = ReplicaGrainKey.Of(logId, partition, from);
        var toKey = ReplicaGrainKey.Of(logId, partition, to);
        var run = new MoveRun(logId, partition, from, to, Random.Shared.NextInt64(1, long.MaxValue));

        // 1. Record the move (idempotent while it runs), owned by this run from now on.
        var begun = await admin.CommitMetadataAsync(run.Command("move", target)).WaitAsync(CallTimeout, stopping);
        if (begun.Log is not { } log || !run.Owns(log))
        {
            _logger.LogInformation("Not moving replica {Key} to {Target}: {Why}", fromKey, target, begun.Error ?? "the move ended");
            return false;
        }

        _homes.Learn(logId, log.Homes);
        _logger.LogInformation("Moving replica {From} to silo {Target} as replica {To}", fromKey, target, toKey);

        // 2. Place and activate the new replica; it must be on the target (else the target is gone: give up).
        var newcomer = _grains.GetGrain<IPartitionReplicaGrain>(toKey);
        var prepared = await newcomer.PrepareAsync().WaitAsync(CallTimeout, stopping);
        var placedOn = (await newcomer.GetStatusAsync().WaitAsync(CallTimeout, stopping)).Silo;
        if (SiloAddress.FromParsableString(placedOn).Endpoint.ToString() != target)
        {
            await AbandonAsync(admin, log, run, target, started, $"replica {toKey} was placed on {placedOn}, not on {target}", stopping);
            return false;
        }

        // 3. Learner, promoted once caught up. The newcomer's incarnation is read each time: one that lost its disk
        // meanwhile (its silo crashed) comes back as another, which the leader then takes in its place. The timeout runs
        // from its last progress: a partition larger than the catch-up budget copies in ReplicaMoveTimeout is not abandoned
        // (and copied again from scratch by the next round, forever) while its copy goes on.
        var incarnation = prepared.Incarnation;
        var (copied, lastProgress) = (0L, started);
        while (true)
        {
            var leader = await LeaderAsync(log.Info, partition, stopping);
            if (leader is { } l && l.Status.ConfigCommitted && Slot(l.Status.VoterIncarnations, to) == incarnation)
            {
                break;
            }

            if (_time.GetElapsedTime(lastProgress) > timeout)
            {
                await AbandonAsync(admin, log, run, target, started, $"replica {toKey} copied nothing for {timeout} (up to Raft index {copied})", stopping);
                return false;
            }

            if (leader is { } at && Slot(at.Status.VoterIncarnations, to) != incarnation && Slot(at.Status.LearnerIncarnations, to) != incarnation)
            {
                // Only while this run still owns the move: a stale run (on a previous metadata leader) would add slot To
                // back after the owning run abandoned the move and dropped its home.
                if (!StillMoving(fromKey))
                {
                    return false;
                }

                if (await MetadataLogAsync(logId, stopping) is not { } recorded || !run.Owns(recorded))
                {
                    _logger.LogWarning("Not adding replica {To}: the move of replica {From} ended or passed to another run meanwhile", toKey, fromKey);
                    return false;
                }

                await StepAsync(() => at.Grain.AddReplicaAsync(to, incarnation), stopping);
            }

            await Task.Delay(StepInterval, _time, stopping);
            try
            {
                var status = await newcomer.GetStatusAsync().WaitAsync(CallTimeout, stopping);
                if (status.Incarnation != incarnation || status.LastIndex > copied)
                {
                    (copied, lastProgress) = (status.LastIndex, _time.GetTimestamp());
                }

                incarnation = status.Incarnation;
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                // Its silo is being lost: the next check asks again.
            }
        }

        // 4. Remove the moved replica, if the move still runs and this silo still leads the metadata group, keeping To.
        if (!StillMoving(fromKey))
        {
            return false;
        }

        if (await MetadataLogAsync(logId, stopping) is not { } current || !run.Owns(current))
        {
            _logger.LogWarning("Not removing replica {From}: its move to {To} ended or passed to another run meanwhile", fromKey, toKey);
            return false;
        }

        switch (await RemoveFromGroupAsync(log.Info, run, from, successor: to, keep: to, stopping))
        {
            case null:
                return false; // gave up (no leader, or replica To no longer votes): a later round resumes the move
            case false:
                _logger.LogWarning("Not removing replica {From}: replica {To} left the group meanwhile (another run of the move abandoned it)", fromKey, toKey);
                return false;
        }

        await FinishAsync(admin, run, target, started, stopping);
        return true;
    }

    /// <summary>Steps 5 and 6, once slot From is out of the group.</summary>
    private async Task FinishAsync(IMetadataAdminGrain admin, MoveRun run, string target, long started, CancellationToken stopping)
    {
        var (logId, partition, from, to) = (run.Log, run.Partition, run.From, run.To);
        var fromKey = ReplicaGrainKey.Of(logId, partition, from);
        var moved = await admin.CommitMetadataAsync(run.Command("moved", null)).WaitAsync(CallTimeout, stopping);
        _homes.Learn(logId, moved.Log?.Homes);
        if (moved.Error is { } error)
        {
            // Another run owns the move now (a mover on the new metadata leader): it finishes it.
            _logger.LogWarning("Not finishing the move of replica {From}: {Error}", fromKey, error);
            return;
        }

        await RetireAsync(fromKey, stopping);
        ReplicationInstruments.ReplicaMoves.Add(1, new KeyValuePair<string, object?>("pyralog.move.outcome", "moved"));
        ReplicationInstruments.ReplicaMoveDuration.Record(_time.GetElapsedTime(started).TotalSeconds);
        _logger.LogInformation("Moved replica {From} to silo {Target} as replica {To} in {Seconds:0.0} s", fromKey, target, ReplicaGrainKey.Of(logId, partition, to), _time.GetElapsedTime(started).TotalSeconds);
    }

    private async Task AbandonAsync(IMetadataAdminGrain admin, MetadataLog log, MoveRun run, string target, long started, string why, CancellationToken stopping)
    {
        var (partition, from, to) = (run.Partition, run.From, run.To);
        var fromKey = ReplicaGrainKey.Of(log.Info.Id, partition, from);
        var fromIn = await VotesOrLearnsAsync(log.Info, run, from, stopping);
        if (fromIn is null)
        {
            return; // gave up (no leader): a later round resumes the move, and abandons it if it still must
        }

        if (fromIn == false)
        {
            // A resumed move whose step 4 ran before its "moved" failed to commit (a timeout, a metadata leader change):
            // slot To is the group's only replacement for From now, and removing it would leave the group a voter short
            // for good. However it is placed now, the move is past its point of no return: finish it.
            _logger.LogWarning("Not abandoning the move of replica {From} ({Why}): it is out of its group already, so the move is finished instead", fromKey, why);
            await FinishAsync(admin, run, target, started, stopping);
            return;
        }

        if (!StillMoving(fromKey))
        {
            return;
        }

        _logger.LogWarning("Abandoning the move of replica {From}: {Why}", fromKey, why);
        var removed = await RemoveFromGroupAsync(log.Info, run, to, successor: -1, keep: from, stopping);
        if (removed is null)
        {
            return; // gave up (no leader, or replica From no longer votes): a later round resumes the move
        }

        if (removed == false)
        {
            // Another run of the move removed slot From between the check above and this removal: as there, finish it.
            _logger.LogWarning("Not abandoning the move of replica {From} ({Why}): it left its group meanwhile (another run of the move removed it), so the move is finished instead", fromKey, why);
            await FinishAsync(admin, run, target, started, stopping);
            return;
        }

        var abandoned = await admin.CommitMetadataAsync(run.Command("abandon-move", null)).WaitAsync(CallTimeout, stopping);
        _homes.Learn(log.Info.Id, abandoned.Log?.Homes);
        if (abandoned.Error is { } error)
        {
            // Another run owns the move now and adds the new replica again: it must not retire.
            _logger.LogWarning("Not abandoning the move of replica {From}: {Error}", fromKey, error);
            return;
        }

        await RetireAsync(ReplicaGrainKey.Of(log.Info.Id, partition, to), stopping);
        ReplicationInstruments.ReplicaMoves.Add(1, new KeyValuePair<string, object?>("pyralog.move.outcome", "abandoned"));
    }
}
