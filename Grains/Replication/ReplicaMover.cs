using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Placement;

namespace Pyralog.Grains.Replication;

/*
 * Replica moves: takes replicas off draining silos and onto silos that joined, one learner-first move per partition.
 *
 * Who moves: the silo whose metadata replica leads the metadata group, so one mover plans at a time with the truth at
 * hand (two movers for a moment after a leadership change are harmless: the metadata group starts at most one move
 * per partition, every step below is idempotent, a partition's leader removes one of a move's two slots only while the
 * other votes (below), and a mover checks that it still leads before either step that removes a replica from a
 * group, leaving the move to the new leader's mover otherwise). Every ReplicaMoveInterval it resumes the moves the metadata group
 * records (a mover that failed over leaves them there) and starts what ReplicaMovePlanner plans, up to ReplicaMoves at
 * a time, so producers keep their latency while data is copied.
 *
 * A move of slot From of a partition to silo T, as slot To (a free slot):
 *   1. "move" in the metadata group: slot To gets its home at T. Placement now puts replica To on T.
 *   2. Replica To is activated (from this silo, which knows the new home) and reports its incarnation; it starts empty.
 *   3. The group's leader adds it as a learner that it promotes once caught up (Raft's own catch-up: entries, or a
 *      snapshot in chunks). The group has RF voters the whole time, then RF + 1.
 *   4. Once it votes, the leader removes slot From, only while slot To still votes (a leader asked to remove itself
 *      hands its leadership over first, to replica To when it is caught up: a joining silo then leads about its share
 *      once its replicas arrive).
 *      The group is back to RF voters, none of them lost at any point: a silo failure during a move costs what it
 *      would cost without one.
 *   5. "moved" in the metadata group once the removal is committed in the group: slot From has no home any more.
 *   6. Replica From drops its data and deactivates (RetireAsync checks step 5 itself; a replica whose silo was down
 *      drops its data when it next activates, since an activation of a slot without a home refuses to run).
 * A move whose new replica cannot be placed on T, or that copies nothing for ReplicaMoveTimeout (a large partition
 * takes as long as its copy does), is abandoned: the learner is removed from the group, "abandon-move" drops slot To,
 * and the replica retires.
 * A run that waits ReplicaMoveTimeout for the group itself in step 4 or an abandon (no leader with a committed
 * configuration, or a slot to keep that is only a learner) gives up with a warning: the move stays recorded, and the
 * rounds leave it alone for a backoff (the timeout, doubling with each give-up in a row, up to eight times it) before
 * resuming it. A group that lost its quorum for good would otherwise hold one of the ReplicaMoves slots for ever.
 *
 * Invariant (from metadata version 2, when every silo's build has the check): the partition's leader never removes one
 * of a move's two slots while the other is not a voter of its latest configuration (RemoveReplicaAsync's keep: step 4
 * removes From keeping To, an abandon removes To keeping From), checked in the grain turn that proposes the removal. Raft has at most one configuration change pending, and the leader's
 * configuration includes it, so of two removals the second sees the first: two runs of one move (a mover on the
 * previous metadata leader, a timed-out abandon) can never leave the group without both, which would leave it a voter
 * short for good. A voter, not only a member: slot To made a learner again (its silo stopped, and it came back as another
 * incarnation with nothing) is no copy yet, and the mover waits for it to vote again before it removes From (an abandon
 * waits so for From). A run whose removal is refused learns it from a leader's committed configuration without its keep:
 * step 4 then stops without removing From (the move was abandoned), an abandon finishes the move from step 5 instead
 * (From is out). Step 4 also runs only while the metadata group still records the move, and a move whose slot From is
 * already out of the group (a resumed move whose "moved" did not commit before its mover stopped) is never abandoned,
 * however its new replica is placed: it is finished from step 5. Those checks read another grain than the one that
 * removes, so they only narrow the race the invariant closes. A move of a log deleted meanwhile ends.
 *
 * Each run names itself in the metadata group (MoveRun; from metadata version 2): its step 1 takes the recorded move
 * over, and the metadata group refuses "moved" or "abandon-move" from a run that no longer owns it. Without that, an
 * old run's "abandon-move" that commits late (its call timed out) could drop slot To after the new run had added replica
 * To again: a voter without a home, which no silo activates. A run refused there leaves the move to its owner. Step 3
 * checks too, before each addition of replica To, that this silo still leads the metadata group and the run still owns
 * the move: a stale run would otherwise add back a slot that the owning run abandoned.
 *
 * Each round also re-homes the replicas of silos gone for good (ReplicaRehoming) before it plans: their replicas run
 * elsewhere by then, and once homed where they run they count for balance like any other.
 */
internal sealed class ReplicaMover(
    IClusterMembershipService membership, IGrainFactory grains, LocalReplicas replicas, ReplicaHomeTable homes,
    SiloReportClient reports, ReplicaRehoming rehoming, IOptions<PyralogOptions> options, TimeProvider time, ILogger<ReplicaMover> logger)
    : SiloWatch
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan StepInterval = TimeSpan.FromMilliseconds(200);

    // How long a leader that moves waits for its named successor to catch up before any caught-up voter may take over.
    private static readonly TimeSpan SuccessorWait = TimeSpan.FromSeconds(10);

    // Steps without a leader (200 ms each) between checks that the log still exists.
    private const int LeaderlessChecks = 25;

    // Released when a move completes: the loop plans the next one without waiting for the interval.
    private readonly SemaphoreSlim _wake = new(0);

    // Invariant: the moves this silo is running, by (log, partition); at most one per partition.
    private readonly Dictionary<(ulong Log, int Partition), Task> _running = [];

    // Recorded moves whose last run gave up waiting for their group (GiveUp), by (log, partition): not resumed before
    // Backoff has passed since GaveUpAt, so a group without a leader for good does not hold a ReplicaMoves slot for ever.
    // Dropped once the metadata group no longer records the move. Guarded by _running's lock.
    private readonly Dictionary<(ulong Log, int Partition), (long GaveUpAt, TimeSpan Backoff, int GiveUps)> _gaveUp = [];

    // Invariant: the metadata leader's applied logs as of Index, as the last round read them (-1 and none before); only
    // the mover's loop reads and writes it.
    private (long Index, MetadataLog[] Logs) _applied = (-1, []);

    // The metadata group's version as the last round read it: below MetadataVersion.MoveRuns a partition's leader may run
    // a build without the keep check, so removals use the call every build has. Read by the moves' tasks.
    private volatile int _metadataVersion = MetadataVersion.First;

    protected override async Task WatchAsync(CancellationToken stopping)
    {
        var interval = options.Value.Replication.ReplicaMoveInterval;
        if (interval == TimeSpan.Zero)
        {
            return;
        }

        try
        {
            while (true)
            {
                // A round every interval, and one as soon as a move completes, so the next one starts at once.
                using (var round = CancellationTokenSource.CreateLinkedTokenSource(stopping))
                {
                    var woken = _wake.WaitAsync(round.Token);
                    await Task.WhenAny(woken, Task.Delay(interval, time, round.Token));
                    await round.CancelAsync();
                    await ((Task)woken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }

                stopping.ThrowIfCancellationRequested();
                try
                {
                    await RoundAsync(stopping);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
                {
                    logger.LogDebug(e, "Replica moves skipped a round");
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }

        Task[] running;
        lock (_running)
        {
            running = [.. _running.Values];
        }

        await Task.WhenAll(running).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>
    /// Whether this silo still leads the metadata group, checked before a move removes a replica from its group: a mover
    /// that lost the leadership leaves its moves to the new leader's mover, which resumes every recorded move. Two runs
    /// of one move each removing a replica on its own reading (one the moved replica, the other the new one it abandons)
    /// would leave the group a voter short; the partition leader's keep check rules that out, this only makes it rare.
    /// </summary>
    private bool StillMoving(string fromKey)
    {
        if (replicas.LeadsMetadataGroup())
        {
            return true;
        }

        logger.LogInformation("Leaving the move of replica {From} to the metadata group's new leader", fromKey);
        return false;
    }

    private async Task RoundAsync(CancellationToken stopping)
    {
        if (!replicas.LeadsMetadataGroup())
        {
            // Another silo's mover watches the cluster meanwhile: what this one saw of gone silos is stale when it leads again.
            rehoming.Forget();
            return;
        }

        var (active, draining, undecided) = await SilosAsync(stopping);
        // The leader's applied state, read without a Raft round (polling must not keep the idle metadata group awake): what
        // is planned on it is committed as commands that the metadata group checks against its current state.
        var view = await grains.GetGrain<IMetadataAdminGrain>(0).GetAppliedMetadataLogsAsync(_applied.Index).WaitAsync(CallTimeout, stopping);
        if (view.Logs is not null)
        {
            _applied = (view.AppliedIndex, view.Logs);
        }

        _metadataVersion = view.Version;

        var logs = _applied.Logs;
        await rehoming.RehomeAsync(logs, active.ToHashSet(StringComparer.Ordinal), stopping);
        var budget = options.Value.Replication.ReplicaMoves;
        lock (_running)
        {
            foreach (var done in _running.Where(r => r.Value.IsCompleted).Select(r => r.Key).ToList())
            {
                _running.Remove(done);
            }

            // Moves the metadata group records first (this silo's own, or a previous mover's, but not one whose last run
            // gave up on its group a backoff ago), then new ones.
            var recorded = new HashSet<(ulong, int)>();
            foreach (var log in logs)
            {
                foreach (var move in log.Moves ?? [])
                {
                    var key = (log.Info.Id, move.Partition);
                    recorded.Add(key);
                    if (!_running.ContainsKey(key) && !BacksOff(key) && log.Homes?.Home(move.Partition, move.To) is { } target)
                    {
                        Start(log.Info.Id, move.Partition, move.From, move.To, target, stopping);
                    }
                }
            }

            foreach (var ended in _gaveUp.Keys.Where(k => !recorded.Contains(k)).ToList())
            {
                _gaveUp.Remove(ended);
            }

            if (_running.Count >= budget)
            {
                return;
            }

            if (undecided > 0)
            {
                // A silo that did not say whether it drains may be drained and about to be stopped: as the emptiest silo
                // it would be the first target. No new move until every active silo answers (recorded ones go on).
                logger.LogDebug("No new replica move this round: {Count} active silos did not say whether they drain", undecided);
                return;
            }

            foreach (var planned in ReplicaMovePlanner.Plan(logs, active, draining, budget - _running.Count))
            {
                Start(planned.Log, planned.Partition, planned.From, planned.To, planned.Target, stopping);
            }
        }
    }

    /// <summary>Whether the last run of the move in <paramref name="key"/> gave up less than its backoff ago (under _running's lock).</summary>
    private bool BacksOff((ulong Log, int Partition) key) =>
        _gaveUp.TryGetValue(key, out var gaveUp) && time.GetElapsedTime(gaveUp.GaveUpAt) < gaveUp.Backoff;

    /// <summary>
    /// Ends a run that waited <see cref="ReplicaTiming.ReplicaMoveTimeout"/> for the partition's group (no leader, or
    /// a slot to keep that does not vote): the move stays recorded, and a round resumes it once a backoff has passed (the
    /// timeout, doubling with each give-up in a row up to eight times it), when the group may have a leader again.
    /// </summary>
    private void GiveUp(LogInfo info, MoveRun run, string waitedFor)
    {
        TimeSpan backoff;
        lock (_running)
        {
            var giveUps = _gaveUp.TryGetValue((run.Log, run.Partition), out var last) ? last.GiveUps + 1 : 1;
            var timeout = options.Value.Replication.ReplicaMoveTimeout.Ticks;
            backoff = TimeSpan.FromTicks(Math.Min(timeout, TimeSpan.MaxValue.Ticks >> 3) << Math.Min(giveUps - 1, 3));
            _gaveUp[(run.Log, run.Partition)] = (time.GetTimestamp(), backoff, giveUps);
        }

        logger.LogWarning(
            "The move of replica {From} to replica {To} of partition {Partition} of log {Log} (id {LogId}) gave up after waiting {Timeout} for {WaitedFor}; it stays recorded and is resumed in {Backoff} at the earliest",
            ReplicaGrainKey.Of(run.Log, run.Partition, run.From), ReplicaGrainKey.Of(run.Log, run.Partition, run.To), run.Partition, info.Name, info.Id,
            options.Value.Replication.ReplicaMoveTimeout, waitedFor, backoff);
    }

    private void Start(ulong log, int partition, int from, int to, string target, CancellationToken stopping)
    {
        _running[(log, partition)] = Task.Run(async () =>
        {
            try
            {
                if (await MoveAsync(log, partition, from, to, target, stopping))
                {
                    _wake.Release(); // the next move need not wait for the interval; an abandoned one does (no tight retry loop)
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
            {
                logger.LogWarning(e, "Moving replica {Key} to {Target} stopped; the next round resumes it", ReplicaGrainKey.Of(log, partition, from), target);
            }
        }, CancellationToken.None);
    }

    /// <summary>The active silos' endpoints, which of them drain (an operator's drain, or stopping) and how many did not say.</summary>
    private async Task<(List<string> Active, HashSet<string> Draining, int Undecided)> SilosAsync(CancellationToken stopping)
    {
        var active = new List<SiloAddress>();
        var draining = new HashSet<string>(StringComparer.Ordinal);
        var stoppingSilos = new List<string>();
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status == SiloStatus.Active)
            {
                active.Add(member.SiloAddress);
            }
            else if (member.Status is SiloStatus.ShuttingDown or SiloStatus.Stopping)
            {
                stoppingSilos.Add(member.SiloAddress.Endpoint.ToString());
            }
        }

        var (drained, undecided) = await reports.DrainingAmongAsync(active, CallTimeout, stopping);
        foreach (var silo in drained)
        {
            draining.Add(silo.Endpoint.ToString());
        }

        // A stopping silo's replicas move too (it is no longer active, so it is a source only).
        var endpoints = active.Select(s => s.Endpoint.ToString()).Concat(stoppingSilos).Distinct(StringComparer.Ordinal).ToList();
        draining.UnionWith(stoppingSilos);
        return (endpoints, draining, undecided);
    }

    /// <summary>Runs one move to its end; false when it was not started or was abandoned (the next round, not this one's end, plans again).</summary>
    private async Task<bool> MoveAsync(ulong logId, int partition, int from, int to, string target, CancellationToken stopping)
    {
        var admin = grains.GetGrain<IMetadataAdminGrain>(0);
        var started = time.GetTimestamp();
        var timeout = options.Value.Replication.ReplicaMoveTimeout;
        var fromKey = ReplicaGrainKey.Of(logId, partition, from);
        var toKey = ReplicaGrainKey.Of(logId, partition, to);
        var run = new MoveRun(logId, partition, from, to, Random.Shared.NextInt64(1, long.MaxValue));

        // 1. Record the move (idempotent while it runs), owned by this run from now on.
        var begun = await admin.CommitMetadataAsync(run.Command("move", target)).WaitAsync(CallTimeout, stopping);
        if (begun.Log is not { } log || !run.Owns(log))
        {
            logger.LogInformation("Not moving replica {Key} to {Target}: {Why}", fromKey, target, begun.Error ?? "the move ended");
            return false;
        }

        homes.Learn(logId, log.Homes);
        logger.LogInformation("Moving replica {From} to silo {Target} as replica {To}", fromKey, target, toKey);

        // 2. Place and activate the new replica; it must be on the target (else the target is gone: give up).
        var newcomer = grains.GetGrain<IPartitionReplicaGrain>(toKey);
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

            if (time.GetElapsedTime(lastProgress) > timeout)
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
                    logger.LogWarning("Not adding replica {To}: the move of replica {From} ended or passed to another run meanwhile", toKey, fromKey);
                    return false;
                }

                await StepAsync(() => at.Grain.AddReplicaAsync(to, incarnation), stopping);
            }

            await Task.Delay(StepInterval, time, stopping);
            try
            {
                var status = await newcomer.GetStatusAsync().WaitAsync(CallTimeout, stopping);
                if (status.Incarnation != incarnation || status.LastIndex > copied)
                {
                    (copied, lastProgress) = (status.LastIndex, time.GetTimestamp());
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
            logger.LogWarning("Not removing replica {From}: its move to {To} ended or passed to another run meanwhile", fromKey, toKey);
            return false;
        }

        switch (await RemoveFromGroupAsync(log.Info, run, from, successor: to, keep: to, stopping))
        {
            case null:
                return false; // gave up (no leader, or replica To no longer votes): a later round resumes the move
            case false:
                logger.LogWarning("Not removing replica {From}: replica {To} left the group meanwhile (another run of the move abandoned it)", fromKey, toKey);
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
        homes.Learn(logId, moved.Log?.Homes);
        if (moved.Error is { } error)
        {
            // Another run owns the move now (a mover on the new metadata leader): it finishes it.
            logger.LogWarning("Not finishing the move of replica {From}: {Error}", fromKey, error);
            return;
        }

        await RetireAsync(fromKey, stopping);
        ReplicationInstruments.ReplicaMoves.Add(1, new KeyValuePair<string, object?>("pyralog.move.outcome", "moved"));
        ReplicationInstruments.ReplicaMoveDuration.Record(time.GetElapsedTime(started).TotalSeconds);
        logger.LogInformation("Moved replica {From} to silo {Target} as replica {To} in {Seconds:0.0} s", fromKey, target, ReplicaGrainKey.Of(logId, partition, to), time.GetElapsedTime(started).TotalSeconds);
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
            logger.LogWarning("Not abandoning the move of replica {From} ({Why}): it is out of its group already, so the move is finished instead", fromKey, why);
            await FinishAsync(admin, run, target, started, stopping);
            return;
        }

        if (!StillMoving(fromKey))
        {
            return;
        }

        logger.LogWarning("Abandoning the move of replica {From}: {Why}", fromKey, why);
        var removed = await RemoveFromGroupAsync(log.Info, run, to, successor: -1, keep: from, stopping);
        if (removed is null)
        {
            return; // gave up (no leader, or replica From no longer votes): a later round resumes the move
        }

        if (removed == false)
        {
            // Another run of the move removed slot From between the check above and this removal: as there, finish it.
            logger.LogWarning("Not abandoning the move of replica {From} ({Why}): it left its group meanwhile (another run of the move removed it), so the move is finished instead", fromKey, why);
            await FinishAsync(admin, run, target, started, stopping);
            return;
        }

        var abandoned = await admin.CommitMetadataAsync(run.Command("abandon-move", null)).WaitAsync(CallTimeout, stopping);
        homes.Learn(log.Info.Id, abandoned.Log?.Homes);
        if (abandoned.Error is { } error)
        {
            // Another run owns the move now and adds the new replica again: it must not retire.
            logger.LogWarning("Not abandoning the move of replica {From}: {Error}", fromKey, error);
            return;
        }

        await RetireAsync(ReplicaGrainKey.Of(log.Info.Id, partition, to), stopping);
        ReplicationInstruments.ReplicaMoves.Add(1, new KeyValuePair<string, object?>("pyralog.move.outcome", "abandoned"));
    }

    /// <summary>
    /// Removes slot <paramref name="slot"/> from the partition's group while slot <paramref name="keep"/> (the move's
    /// other slot) is a voter, and waits until the leader's configuration without it is committed: true then; false,
    /// with <paramref name="slot"/> left in, once a leader's committed configuration lacks <paramref name="keep"/>
    /// (another run of the move removed it; the leader refuses the removal then, see
    /// <see cref="IPartitionReplicaGrain.RemoveReplicaAsync"/>). While <paramref name="keep"/> is only a learner (a new
    /// incarnation of it, after its silo stopped, that holds nothing yet) nothing is removed: it waits for the learner to
    /// vote. Null once it has waited <see cref="ReplicaTiming.ReplicaMoveTimeout"/> in a row for a leader with a
    /// committed configuration in which <paramref name="keep"/> votes (<see cref="GiveUp"/>). A leader that is the slot
    /// hands its leadership to <paramref name="successor"/> once that one is caught up (-1, or after
    /// <see cref="SuccessorWait"/>: to any caught-up voter).
    /// </summary>
    /// <exception cref="InvalidOperationException">The log was deleted meanwhile (no replica of it leads any more).</exception>
    private async Task<bool?> RemoveFromGroupAsync(LogInfo info, MoveRun run, int slot, int successor, int keep, CancellationToken stopping)
    {
        var started = time.GetTimestamp();
        var stalledSince = started;
        var timeout = options.Value.Replication.ReplicaMoveTimeout;
        var leaderless = 0;
        while (true)
        {
            if (successor >= 0 && time.GetElapsedTime(started) > SuccessorWait)
            {
                successor = -1;
            }

            var leader = await LeaderAsync(info, run.Partition, stopping);
            string? waitingFor = null;
            if (leader is { Status.ConfigCommitted: true } l)
            {
                if (Slot(l.Status.VoterIncarnations, slot) == 0 && Slot(l.Status.LearnerIncarnations, slot) == 0)
                {
                    return true;
                }

                if (Slot(l.Status.VoterIncarnations, keep) == 0 && Slot(l.Status.LearnerIncarnations, keep) == 0)
                {
                    return false;
                }

                if (Slot(l.Status.VoterIncarnations, keep) != 0)
                {
                    stalledSince = time.GetTimestamp(); // the leader can remove: whatever it waits for (a hand-off) is its own
                }
                else
                {
                    waitingFor = $"replica {keep} to vote (it is a learner)";
                }
            }
            else
            {
                waitingFor = leader is null ? "a leader of the group" : "the group's leader to commit its configuration";
            }

            if (waitingFor is not null && time.GetElapsedTime(stalledSince) > timeout)
            {
                GiveUp(info, run, $"{waitingFor}, to remove replica {slot} while keeping replica {keep}");
                return null;
            }

            if (leader is { } at)
            {
                leaderless = 0;
                // Not while the slot to keep is a learner: the leader refuses it from metadata version 2, older builds do not.
                if (Slot(at.Status.VoterIncarnations, keep) != 0)
                {
                    await StepAsync(() => _metadataVersion >= MetadataVersion.MoveRuns
                        ? at.Grain.RemoveReplicaAsync(slot, successor, keep)
                        : at.Grain.RemoveReplicaAsync(slot, successor), stopping);
                }
            }
            else
            {
                await ThrowIfDeletedAsync(info, ++leaderless, stopping);
            }

            await Task.Delay(StepInterval, time, stopping);
        }
    }

    /// <summary>
    /// Whether slot <paramref name="slot"/> is a voter or learner of the partition's group, as a leader with a committed
    /// configuration says; null once none has said so for <see cref="ReplicaTiming.ReplicaMoveTimeout"/> (<see cref="GiveUp"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The log was deleted meanwhile (no replica of it leads any more).</exception>
    private async Task<bool?> VotesOrLearnsAsync(LogInfo info, MoveRun run, int slot, CancellationToken stopping)
    {
        var started = time.GetTimestamp();
        var timeout = options.Value.Replication.ReplicaMoveTimeout;
        for (var leaderless = 1; ; leaderless++)
        {
            if (await LeaderAsync(info, run.Partition, stopping) is { Status.ConfigCommitted: true } leader)
            {
                return Slot(leader.Status.VoterIncarnations, slot) != 0 || Slot(leader.Status.LearnerIncarnations, slot) != 0;
            }

            if (time.GetElapsedTime(started) > timeout)
            {
                GiveUp(info, run, $"a leader of the group with a committed configuration, to tell whether replica {slot} is still in it");
                return null;
            }

            await ThrowIfDeletedAsync(info, leaderless, stopping);
            await Task.Delay(StepInterval, time, stopping);
        }
    }

    /// <summary>Every <see cref="LeaderlessChecks"/> steps without a leader, whether the log still exists: its replicas answer that it is gone, and polling them would only activate them again.</summary>
    /// <exception cref="InvalidOperationException">The log was deleted.</exception>
    private async Task ThrowIfDeletedAsync(LogInfo info, int leaderless, CancellationToken stopping)
    {
        if (leaderless % LeaderlessChecks == 0 && await MetadataLogAsync(info.Id, stopping) is null)
        {
            throw new InvalidOperationException($"log {info.Name} (id {info.Id}) was deleted during a replica move");
        }
    }

    /// <summary>Log <paramref name="logId"/> as the metadata group's leader holds it now (a linearizable read), or null once deleted.</summary>
    private async Task<MetadataLog?> MetadataLogAsync(ulong logId, CancellationToken stopping)
    {
        var logs = await grains.GetGrain<IMetadataAdminGrain>(0).GetMetadataLogsAsync().WaitAsync(CallTimeout, stopping);
        return Array.Find(logs, l => l.Info.Id == logId);
    }

    /// <summary>One membership step at the leader; a lost leadership or a slow answer only means the next check tries again.</summary>
    private async Task StepAsync(Func<Task<string?>> step, CancellationToken stopping)
    {
        try
        {
            if (await step().WaitAsync(CallTimeout, stopping) is { } notYet)
            {
                logger.LogDebug("A replica move waits: {Why}", notYet);
            }
        }
        catch (Exception e) when (e is NotLeaderException or TimeoutException or OrleansException)
        {
            logger.LogDebug(e, "A replica move step will be retried");
        }
    }

    private async Task RetireAsync(string key, CancellationToken stopping)
    {
        try
        {
            await grains.GetGrain<IPartitionReplicaGrain>(key).RetireAsync().WaitAsync(CallTimeout, stopping);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
        {
            // Its silo is down, or it refused to activate because it has no home: it drops its data when it next activates.
            logger.LogDebug(e, "Replica {Key} did not retire now", key);
        }
    }

    /// <summary>The leader among the partition's slots (the highest term that answers as leader), or null during an election.</summary>
    private async Task<(IPartitionReplicaGrain Grain, ReplicaStatus Status)?> LeaderAsync(LogInfo info, int partition, CancellationToken stopping)
    {
        var asks = info.ReplicaSlots(partition).Select(s => grains.GetGrain<IPartitionReplicaGrain>(info.ReplicaKey(partition, s))).ToArray();
        var statuses = asks.Select(g => g.GetStatusAsync().WaitAsync(CallTimeout, stopping)).ToArray();
        await ((Task)Task.WhenAll(statuses)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        (IPartitionReplicaGrain, ReplicaStatus)? leader = null;
        for (var i = 0; i < asks.Length; i++)
        {
            if (statuses[i].IsCompletedSuccessfully && statuses[i].Result is { Role: ReplicaRole.Leader } s && (leader is null || s.Term > leader.Value.Item2.Term))
            {
                leader = (asks[i], s);
            }
        }

        return leader;
    }

    private static long Slot(long[] incarnations, int slot) => slot < incarnations.Length ? incarnations[slot] : 0;

}
