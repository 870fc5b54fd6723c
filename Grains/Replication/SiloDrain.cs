using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Obelisk;

namespace Pyralog.Grains.Replication;

/*
 * A silo that stops gracefully hands off leadership before its replicas go.
 *
 * Without this, Orleans deactivates every replica of a stopping silo at once; a group whose leader was here then waits
 * an election timeout (300-600 ms by default) with no leader, and the appends in flight at the leader fail as "outcome
 * unknown". With it, the silo's stop runs this first, while the silo is still an active member and every grain still
 * runs: each replica here that leads starts a Raft leader transfer (RaftNode.TransferLeadership: proposals pause, the
 * sibling is caught up to the last entry and told to campaign at once) to a sibling on another silo — on the silo that
 * leads the fewest groups among those holding a caught-up follower (LeadershipReader, counted as the plan goes, so a
 * drain spreads its leaderships instead of piling them on whichever sibling is a few entries ahead), else the most
 * caught-up sibling — and
 * the drain repeats the sweep until no replica here leads and every one that led has answered the appends proposed
 * while it led (they commit in the new leader's term; a former leader answers them as it applies them) — a transfer
 * that timed out is started again, a replica here that won an election meanwhile is asked too — or DrainTimeout passes, or every replica still leading has reported,
 * for two election timeouts, that it has no sibling elsewhere to hand to. Producers see a NotLeader answer naming no
 * leader during a transfer, or one naming the new leader after it, and resend: latency, not errors. Appends that were
 * proposed before the transfer are in the log the new leader was caught up to, so they commit in its term and are
 * answered before the old leader deactivates (if the drain timed out first, they fail as "outcome unknown" and the
 * producer's idempotent resend is answered from the new leader's producer table).
 *
 * Then every replica here that follows tells its leader it is leaving (the leader stops counting it as heard from, so
 * the incarnation that takes its place on another silo rejoins at once instead of after an election timeout of
 * silence; a group of three keeps its quorum with the other two). The transfer never risks safety: it is Raft's own
 * leader transfer, and a transfer to a replica that died meanwhile only ends in an ordinary election.
 *
 * Failures: a replica that does not answer within the time left is reported and skipped; a cancelled stop (the host's
 * shutdown timeout) ends the drain where it is. Nothing here waits longer than DrainTimeout.
 */

/// <summary>Hands off the leadership of every replica on this silo when the silo stops gracefully (see the comment above).</summary>
internal sealed class SiloDrain(
    LocalReplicas replicas, LeadershipReader leaderships, IClusterMembershipService membership, ILocalSiloDetails silo, IOptions<PyralogOptions> options, TimeProvider time, ILogger<SiloDrain> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>Before obelisks release their leases and before anything Orleans stops at <see cref="ServiceLifecycleStage.Active"/>.</summary>
    public const int StopStage = ObeliskActivations.StopStage + 1;

    private static readonly TimeSpan Recheck = TimeSpan.FromMilliseconds(20);

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SiloDrain), StopStage, _ => Task.CompletedTask, DrainAsync);

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        var timing = options.Value.Replication;
        if (timing.DrainTimeout <= TimeSpan.Zero || cancellationToken.IsCancellationRequested)
        {
            return; // no hand-off configured, or not a graceful stop (a stop cancelled from the start is a kill)
        }

        if (!OtherSiloActive())
        {
            logger.LogInformation("No other silo is active: the replicas on this silo keep their leadership until they stop");
            return;
        }

        var started = time.GetTimestamp();
        Dictionary<string, LeadershipHandOff> led;
        try
        {
            led = await HandOffAllAsync(timing.DrainTimeout, cancellationToken).ConfigureAwait(false);
            await AnnounceLeavingAsync(timing.DrainTimeout - time.GetElapsedTime(started), cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("The silo's stop was cancelled while its replicas handed off their leadership");
            return;
        }

        Report(led, time.GetElapsedTime(started));
    }

    /// <summary>
    /// Hands off the leadership of every replica here, as a stop does, while the silo keeps running (an operator's drain
    /// before maintenance: <see cref="SiloMaintenance"/>); returns how many replicas led and how many still lead.
    /// </summary>
    public async Task<(int Led, int StillLeading)> HandOffLeadershipAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var led = await HandOffAllAsync(timeout, cancellationToken).ConfigureAwait(false);
        return (led.Count, replicas.LeaderCount());
    }

    /// <summary>
    /// Sweeps the replicas here until none leads and every one that led has answered its appends, or
    /// <paramref name="timeout"/> passes, or every replica still leading has had no one to hand to for two election
    /// timeouts; returns every replica seen leading, with its last answer.
    /// </summary>
    private async Task<Dictionary<string, LeadershipHandOff>> HandOffAllAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var timing = options.Value.Replication;
        var started = time.GetTimestamp();
        var stuckFor = timing.TickInterval * timing.ElectionTicks * 2;
        var led = new Dictionary<string, LeadershipHandOff>(StringComparer.Ordinal);
        long? stuckSince = null;
        var successors = await PlanAsync(timeout / 4, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var left = timeout - time.GetElapsedTime(started);
            var answers = await AskAllAsync(left, successors, cancellationToken).ConfigureAwait(false);
            var unsettled = 0;
            var moving = false;
            foreach (var (key, answer) in answers)
            {
                if (answer.Leads || led.ContainsKey(key))
                {
                    led[key] = answer;
                    if (!answer.Settled)
                    {
                        unsettled++;
                        moving |= answer.To >= 0 || !answer.Leads;
                    }
                }
            }

            if (unsettled == 0 || time.GetElapsedTime(started) >= timeout)
            {
                return led;
            }

            stuckSince = moving ? null : stuckSince ?? time.GetTimestamp();
            if (stuckSince is { } since && time.GetElapsedTime(since) >= stuckFor)
            {
                return led; // every replica still leading has had no one to hand to for two election timeouts
            }

            await Task.Delay(Recheck, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private bool OtherSiloActive()
    {
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status == SiloStatus.Active && !member.SiloAddress.Equals(silo.SiloAddress))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Which slot each group led here should hand its leadership to: a follower on the least loaded silo (by key; empty
    /// when the other silos' leaderships could not be read within <paramref name="timeout"/>: each then picks its most
    /// caught-up sibling).
    /// </summary>
    private async Task<Dictionary<string, int>> PlanAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var plan = new Dictionary<string, int>(StringComparer.Ordinal);
        try
        {
            var view = await leaderships.ReadAsync(draining: true, timeout, cancellationToken).ConfigureAwait(false);
            foreach (var (key, _, replica) in view?.PlanHandOvers(int.MaxValue) ?? [])
            {
                plan[key] = replica;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogInformation("The other silos' leaderships could not be read ({Error}): each replica here hands its leadership to its most caught-up sibling", e.Message);
        }

        return plan;
    }

    /// <summary>
    /// Asks every replica here to hand off its leadership, to the slot <paramref name="successors"/> names for it when it
    /// can; answers by key (a replica that failed to answer: not leading, the error as obstacle).
    /// </summary>
    private async Task<List<(string Key, LeadershipHandOff Answer)>> AskAllAsync(TimeSpan left, Dictionary<string, int> successors, CancellationToken cancellationToken)
    {
        var active = replicas.Active.ToArray();
        var here = new Dictionary<(ulong Log, int Partition), List<int>>();
        foreach (var (key, _) in active)
        {
            if (ReplicaGrainKey.TryParse(key, out var parsed))
            {
                if (!here.TryGetValue((parsed.Log, parsed.Partition), out var slots))
                {
                    here[(parsed.Log, parsed.Partition)] = slots = [];
                }

                slots.Add(parsed.Replica);
            }
        }

        var calls = new Task<LeadershipHandOff>[active.Length];
        for (var i = 0; i < active.Length; i++)
        {
            var (key, metadata) = active[i];
            var siblings = ReplicaGrainKey.TryParse(key, out var parsed) ? here[(parsed.Log, parsed.Partition)].Where(r => r != parsed.Replica).ToArray() : [];
            calls[i] = replicas.Grain(key, metadata).AsReference<IReplicaLeavingGrain>().HandOffForLeavingAsync(siblings, successors.GetValueOrDefault(key, -1));
        }

        var answers = new List<(string, LeadershipHandOff)>(active.Length);
        for (var i = 0; i < active.Length; i++)
        {
            LeadershipHandOff answer;
            try
            {
                answer = await calls[i].WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, time, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                ObserveLater(calls[i]);
                answer = new LeadershipHandOff(false, -1, $"no answer: {e.Message}");
            }

            answers.Add((active[i].Key, answer));
        }

        return answers;
    }

    /// <summary>Every follower here tells its leader it is leaving (see the comment above).</summary>
    private async Task AnnounceLeavingAsync(TimeSpan left, CancellationToken cancellationToken)
    {
        var calls = replicas.Active.Select(r => replicas.Grain(r.Key, r.Value).AsReference<IReplicaLeavingGrain>().AnnounceLeavingAsync()).ToArray();
        try
        {
            await Task.WhenAll(calls).WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A follower that did not announce is counted out by its leader after an election timeout of silence.
            foreach (var call in calls)
            {
                ObserveLater(call);
            }
        }
    }

    private void Report(Dictionary<string, LeadershipHandOff> led, TimeSpan took)
    {
        var handedOff = led.Count(l => l.Value.Settled);
        var failed = led.Where(l => !l.Value.Settled).ToArray();
        if (led.Count == 0)
        {
            logger.LogInformation("Silo stopping: no replica on this silo leads, nothing to hand off");
            return;
        }

        if (failed.Length == 0)
        {
            logger.LogInformation("Silo stopping: handed off the leadership of {Count} replicas to siblings on other silos in {Milliseconds:0} ms", handedOff, took.TotalMilliseconds);
            return;
        }

        var why = string.Join("; ", failed.Select(f => $"{f.Key}: {Why(f.Value)}"));
        logger.LogWarning(
            "Silo stopping: handed off the leadership of {Count} replicas in {Milliseconds:0} ms; {Failed} could not hand off within the drain timeout ({Timeout}) and stop as leaders (their groups elect anew): {Why}",
            handedOff, took.TotalMilliseconds, failed.Length, options.Value.Replication.DrainTimeout, why);
    }

    private static string Why(LeadershipHandOff answer) => answer switch
    {
        { Obstacle: { } obstacle } => obstacle,
        { Leads: true } => $"still transferring to replica {answer.To}",
        _ => $"{answer.Pending} appends proposed while it led still wait for their outcome (their producers resend them)",
    };

    private static void ObserveLater(Task task) =>
        task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
