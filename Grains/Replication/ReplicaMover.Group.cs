using Microsoft.Extensions.Logging;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;

namespace Pyralog.Grains.Replication;

// What a move asks of the partition's group: its leader, one membership step at a time, the removal of a slot while the
// move's other slot votes, and the retirement of a replica that left the group.
internal sealed partial class ReplicaMover
{
    // How long a leader that moves waits for its named successor to catch up before any caught-up voter may take over.
    private static readonly TimeSpan SuccessorWait = TimeSpan.FromSeconds(10);

    // Steps without a leader (200 ms each) between checks that the log still exists.
    private const int LeaderlessChecks = 25;

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
        var started = _time.GetTimestamp();
        var stalledSince = started;
        var timeout = _options.Value.Replication.ReplicaMoveTimeout;
        var leaderless = 0;
        while (true)
        {
            if (successor >= 0 && _time.GetElapsedTime(started) > SuccessorWait)
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
                    stalledSince = _time.GetTimestamp(); // the leader can remove: whatever it waits for (a hand-off) is its own
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

            if (waitingFor is not null && _time.GetElapsedTime(stalledSince) > timeout)
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

            await Task.Delay(StepInterval, _time, stopping);
        }
    }

    /// <summary>
    /// Whether slot <paramref name="slot"/> is a voter or learner of the partition's group, as a leader with a committed
    /// configuration says; null once none has said so for <see cref="ReplicaTiming.ReplicaMoveTimeout"/> (<see cref="GiveUp"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The log was deleted meanwhile (no replica of it leads any more).</exception>
    private async Task<bool?> VotesOrLearnsAsync(LogInfo info, MoveRun run, int slot, CancellationToken stopping)
    {
        var started = _time.GetTimestamp();
        var timeout = _options.Value.Replication.ReplicaMoveTimeout;
        for (var leaderless = 1; ; leaderless++)
        {
            if (await LeaderAsync(info, run.Partition, stopping) is { Status.ConfigCommitted: true } leader)
            {
                return Slot(leader.Status.VoterIncarnations, slot) != 0 || Slot(leader.Status.LearnerIncarnations, slot) != 0;
            }

            if (_time.GetElapsedTime(started) > timeout)
            {
                GiveUp(info, run, $"a leader of the group with a committed configuration, to tell whether replica {slot} is still in it");
                return null;
            }

            await ThrowIfDeletedAsync(info, leaderless, stopping);
            await Task.Delay(StepInterval, _time, stopping);
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
        var logs = await _grains.GetGrain<IMetadataAdminGrain>(0).GetMetadataLogsAsync().WaitAsync(CallTimeout, stopping);
        return Array.Find(logs, l => l.Info.Id == logId);
    }

    /// <summary>One membership step at the leader; a lost leadership or a slow answer only means the next check tries again.</summary>
    private async Task StepAsync(Func<Task<string?>> step, CancellationToken stopping)
    {
        try
        {
            if (await step().WaitAsync(CallTimeout, stopping) is { } notYet)
            {
                _logger.LogDebug("A replica move waits: {Why}", notYet);
            }
        }
        catch (Exception e) when (e is NotLeaderException or TimeoutException or OrleansException)
        {
            _logger.LogDebug(e, "A replica move step will be retried");
        }
    }

    private async Task RetireAsync(string key, CancellationToken stopping)
    {
        try
        {
            await _grains.GetGrain<IPartitionReplicaGrain>(key).RetireAsync().WaitAsync(CallTimeout, stopping);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
        {
            // Its silo is down, or it refused to activate because it has no home: it drops its data when it next activates.
            _logger.LogDebug(e, "Replica {Key} did not retire now", key);
        }
    }

    /// <summary>The leader among the partition's slots (the highest term that answers as leader), or null during an election.</summary>
    private async Task<(IPartitionReplicaGrain Grain, ReplicaStatus Status)?> LeaderAsync(LogInfo info, int partition, CancellationToken stopping)
    {
        var asks = info.ReplicaSlots(partition).Select(s => _grains.GetGrain<IPartitionReplicaGrain>(info.ReplicaKey(partition, s))).ToArray();
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
