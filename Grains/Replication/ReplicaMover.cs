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
 *
 * This file holds the rounds; ReplicaMover.Run.cs one move's run (steps 1 to 6, abandon), ReplicaMover.Group.cs what a run
 * asks of the partition's group.
 */
internal sealed partial class ReplicaMover(
    IClusterMembershipService membership, IGrainFactory grains, LocalReplicas replicas, ReplicaHomeTable homes,
    SiloReportClient reports, ReplicaRehoming rehoming, IOptions<PyralogOptions> options, TimeProvider time, ILogger<ReplicaMover> logger)
    : SiloWatch
{
    // Fields, not the primary constructor's parameters, so that every part of the class sees them.
    private readonly IClusterMembershipService _membership = membership;
    private readonly IGrainFactory _grains = grains;
    private readonly LocalReplicas _replicas = replicas;
    private readonly ReplicaHomeTable _homes = homes;
    private readonly SiloReportClient _reports = reports;
    private readonly ReplicaRehoming _rehoming = rehoming;
    private readonly IOptions<PyralogOptions> _options = options;
    private readonly TimeProvider _time = time;
    private readonly ILogger<ReplicaMover> _logger = logger;

    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan StepInterval = TimeSpan.FromMilliseconds(200);

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
        var interval = _options.Value.Replication.ReplicaMoveInterval;
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
                    await Task.WhenAny(woken, Task.Delay(interval, _time, round.Token));
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
                    _logger.LogDebug(e, "Replica moves skipped a round");
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
        if (_replicas.LeadsMetadataGroup())
        {
            return true;
        }

        _logger.LogInformation("Leaving the move of replica {From} to the metadata group's new leader", fromKey);
        return false;
    }

    private async Task RoundAsync(CancellationToken stopping)
    {
        if (!_replicas.LeadsMetadataGroup())
        {
            // Another silo's mover watches the cluster meanwhile: what this one saw of gone silos is stale when it leads again.
            _rehoming.Forget();
            return;
        }

        var (active, draining, undecided) = await SilosAsync(stopping);
        // The leader's applied state, read without a Raft round (polling must not keep the idle metadata group awake): what
        // is planned on it is committed as commands that the metadata group checks against its current state.
        var view = await _grains.GetGrain<IMetadataAdminGrain>(0).GetAppliedMetadataLogsAsync(_applied.Index).WaitAsync(CallTimeout, stopping);
        if (view.Logs is not null)
        {
            _applied = (view.AppliedIndex, view.Logs);
        }

        _metadataVersion = view.Version;

        var logs = _applied.Logs;
        await _rehoming.RehomeAsync(logs, active.ToHashSet(StringComparer.Ordinal), stopping);
        var budget = _options.Value.Replication.ReplicaMoves;
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
                _logger.LogDebug("No new replica move this round: {Count} active silos did not say whether they drain", undecided);
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
        _gaveUp.TryGetValue(key, out var gaveUp) && _time.GetElapsedTime(gaveUp.GaveUpAt) < gaveUp.Backoff;

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
            var timeout = _options.Value.Replication.ReplicaMoveTimeout.Ticks;
            backoff = TimeSpan.FromTicks(Math.Min(timeout, TimeSpan.MaxValue.Ticks >> 3) << Math.Min(giveUps - 1, 3));
            _gaveUp[(run.Log, run.Partition)] = (_time.GetTimestamp(), backoff, giveUps);
        }

        _logger.LogWarning(
            "The move of replica {From} to replica {To} of partition {Partition} of log {Log} (id {LogId}) gave up after waiting {Timeout} for {WaitedFor}; it stays recorded and is resumed in {Backoff} at the earliest",
            ReplicaGrainKey.Of(run.Log, run.Partition, run.From), ReplicaGrainKey.Of(run.Log, run.Partition, run.To), run.Partition, info.Name, info.Id,
            _options.Value.Replication.ReplicaMoveTimeout, waitedFor, backoff);
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
                _logger.LogWarning(e, "Moving replica {Key} to {Target} stopped; the next round resumes it", ReplicaGrainKey.Of(log, partition, from), target);
            }
        }, CancellationToken.None);
    }

    /// <summary>The active silos' endpoints, which of them drain (an operator's drain, or stopping) and how many did not say.</summary>
    private async Task<(List<string> Active, HashSet<string> Draining, int Undecided)> SilosAsync(CancellationToken stopping)
    {
        var active = new List<SiloAddress>();
        var draining = new HashSet<string>(StringComparer.Ordinal);
        var stoppingSilos = new List<string>();
        foreach (var member in _membership.CurrentSnapshot.Members.Values)
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

        var (drained, undecided) = await _reports.DrainingAmongAsync(active, CallTimeout, stopping);
        foreach (var silo in drained)
        {
            draining.Add(silo.Endpoint.ToString());
        }

        // A stopping silo's replicas move too (it is no longer active, so it is a source only).
        var endpoints = active.Select(s => s.Endpoint.ToString()).Concat(stoppingSilos).Distinct(StringComparer.Ordinal).ToList();
        draining.UnionWith(stoppingSilos);
        return (endpoints, draining, undecided);
    }
}
