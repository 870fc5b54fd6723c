using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pyralog.Consensus;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/// <summary>A replica grain running away from its home silo: whether and when it goes back (see ReplicaHomecoming).</summary>
internal abstract partial class ReplicaGrain
{
    private static readonly TimeSpan LeaveCheckTimeout = TimeSpan.FromSeconds(2);

    // Longer than a founding's or a move's step from preparing a replica to naming it takes; a founder that died
    // meanwhile keeps the replica away from home no longer than this.
    private static readonly TimeSpan NamedHold = TimeSpan.FromSeconds(30);

    // A home silo found to hold no data of this replica (asked once per home).
    private SiloAddress? _homeWithoutData;

    // The term in which ReturnHomeAsync first found this replica leading, and when (a TimeProvider timestamp).
    private long _ledSinceTerm;
    private long _ledSince;

    // Until when (a TimeProvider timestamp) homecoming leaves this replica where it is: it reported its incarnation
    // without holding a log (PrepareAsync), and a founder or mover is about to name that incarnation in a configuration.
    // Invariant: ignored once the replica holds a log (the configuration reached it).
    private long _namedUntil;

    /// <summary>
    /// Keeps this replica on its silo for <see cref="NamedHold"/> after it reported its incarnation without a log. Left
    /// free to go home, it would run there under a new incarnation and refuse the bootstrap naming the old one, while its
    /// siblings founded with it: a metadata group whose three replicas all activated on the first silo up (the others had
    /// not joined its view yet) founded with one replica of three and had no leader until the absent incarnations were
    /// found again by giving way (25 s, in CI under load).
    /// </summary>
    private void StayWhileNamed() => _namedUntil = Time.GetTimestamp() + (long)(NamedHold.TotalSeconds * Time.TimestampFrequency);

    public async Task ReturnHomeAsync()
    {
        if (Storage is { Metadata.LastIndex: 0 } && Time.GetTimestamp() < _namedUntil)
        {
            Logger.LogDebug("Replica {Key} stays on this silo until the configuration naming its incarnation reaches it", Key);
            return;
        }

        if (_replicas.BetterSiloElsewhere(new ReplicaGrainKey(LogId, Partition, Replica)) is not { } home || !await WorthMovingAsync(home))
        {
            return;
        }

        var node = Driver?.Node;
        if (node is { Role: RaftRole.Leader })
        {
            // A leader handed leadership moments ago may have it from a sibling that is itself leaving for its home
            // (when a silo joins, two replicas of a group can both be away from home): handing it straight back would
            // bounce leadership between them, an election each time, and neither would ever be a follower at a check.
            // Lead for a few checks first, so the sibling leaves.
            if (_ledSinceTerm != node.Term)
            {
                _ledSinceTerm = node.Term;
                _ledSince = Time.GetTimestamp();
            }

            if (Time.GetElapsedTime(_ledSince) < 4 * Options.Replication.HomecomingInterval)
            {
                return;
            }

            // Leaving as leader would cost the group an election: hand over first; the next check finds a follower.
            if (Driver!.HandOffLeadership() is var to and not 0)
            {
                Logger.LogInformation("Replica {Key} hands its leadership to replica {To} before it returns to its home silo {Home}", Key, ReplicaDriver.Replica(to), home);
            }

            return;
        }

        if (node is not null && node.IsVoter)
        {
            // A leaderless group may need this vote for its next election, unless no sibling counts it; with a leader,
            // leaving costs the group this voter until its home incarnation rejoins: only while every other voter runs.
            var mayLeave = node.Leader == 0 ? await NamedByNoSiblingAsync(node) : await LeaderLetsLeaveAsync(node.Leader);
            if (!mayLeave || Driver?.Node is null or { Role: RaftRole.Leader })
            {
                return; // the next check asks again
            }
        }

        Logger.LogInformation("Replica {Key} returns to its home silo {Home}", Key, home);
        Driver?.AnnounceLeaving();
        MigrateOnIdle();
    }

    /// <summary>
    /// Whether the siblings whose logs are at least as up to date as this replica's all name another incarnation of this slot
    /// as its voter (and at least one answered): then no election counts this incarnation's vote, and staying here only
    /// keeps the incarnation they name (the one at home, typically) from running. Without this, a stand-in back on its
    /// own stale data, believing itself a voter of a leaderless group, waited for a leader that needed its home copy.
    /// </summary>
    private async Task<bool> NamedByNoSiblingAsync(RaftNode node)
    {
        var statuses = await SiblingStatusesAsync(node);
        if (!SiblingConfigurations.NameAnotherVoter(Replica, node.Incarnation, node.LastTerm, node.LastIndex, statuses))
        {
            return false;
        }

        Logger.LogInformation("Replica {Key} leaves its leaderless group: its siblings name another incarnation as this slot's voter", Key);
        return true;
    }

    /// <summary>
    /// What the other voters of this replica's configuration report (null: no answer within <see cref="LeaveCheckTimeout"/>).
    /// A replica without a configuration (a new incarnation the group has not taken in) asks the slots it heard from: the
    /// voters of a leaderless group campaign to it.
    /// </summary>
    private Task<ReplicaStatus?[]> SiblingStatusesAsync(RaftNode node)
    {
        var siblings = new List<Task<ReplicaStatus>>();
        var voters = node.Config.Voters;
        if (voters.Count == 0)
        {
            for (var slot = 0; slot < ReplicaGrainKey.MaxReplicationFactor; slot++)
            {
                if (slot != Replica && Driver?.HeardFrom(slot) == true)
                {
                    siblings.Add(Peer(slot).GetStatusAsync().WaitAsync(LeaveCheckTimeout, Time));
                }
            }
        }

        for (var i = 0; i < voters.Count; i++)
        {
            if (voters[i].Id != node.Id)
            {
                siblings.Add(Peer(ReplicaDriver.Replica(voters[i].Id)).GetStatusAsync().WaitAsync(LeaveCheckTimeout, Time));
            }
        }

        return SiblingConfigurations.AnswersAsync(siblings);
    }

    private async Task<bool> LeaderLetsLeaveAsync(long leader)
    {
        try
        {
            if (await Peer(ReplicaDriver.Replica(leader)).MayLeaveAsync(Replica).WaitAsync(LeaveCheckTimeout, Time))
            {
                return true;
            }

            Logger.LogDebug("Replica {Key} stays until every other voter of its group runs and is caught up", Key);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            Logger.LogDebug(e, "Replica {Key} stays: its leader did not say whether it may leave", Key);
        }

        return false;
    }

    /// <summary>
    /// Whether moving to <paramref name="home"/> helps the group. It does when the home silo holds this replica's data
    /// (it reopens there under its old incarnation: a replica back from a survivor after its silo returned), or when a
    /// sibling runs on this silo too (the group survives one silo loss fewer until it moves, even if it starts empty
    /// there) — unless this replica is a voter and no sibling here is: then the sibling is a stand-in without data
    /// (its own silo is down) and it is the one to go, while this voter keeps its data and its vote. Otherwise — a
    /// silo joined and the placement rule now names it — moving would throw away this replica's data and rejoin it
    /// empty, and two replicas of a group doing so at once leave it one voter of three, unable to elect.
    /// </summary>
    /// <remarks>
    /// Why the voter rule: a leader lets a voter leave while every other voter answers, but a sibling whose silo is
    /// stopping still answers; a voter leaving its data then could leave the group one voter of three for good.
    /// </remarks>
    private async Task<bool> WorthMovingAsync(SiloAddress home)
    {
        var self = new ReplicaGrainKey(LogId, Partition, Replica);
        if (_replicas.SiblingActive(self) && (Driver?.Node is not { IsVoter: true } || await VoterSiblingHereAsync(self)))
        {
            return true;
        }

        if (home.Equals(_homeWithoutData))
        {
            return false;
        }

        var holds = await ServiceProvider.GetRequiredService<SiloReportClient>().For(home).HeldIncarnationAsync(LogId, Partition, Replica) != 0;
        _homeWithoutData = holds ? null : home;
        return holds;
    }

    /// <summary>Whether a sibling active on this silo is a voter of the group (asked directly; one that does not answer counts as one).</summary>
    private async Task<bool> VoterSiblingHereAsync(ReplicaGrainKey self)
    {
        foreach (var (key, metadata) in _replicas.SiblingsActive(self))
        {
            try
            {
                if (await _replicas.Grain(key, metadata).GetStatusAsync().WaitAsync(LeaveCheckTimeout, Time) is
                    { Role: ReplicaRole.Follower or ReplicaRole.Candidate or ReplicaRole.Leader })
                {
                    return true;
                }
            }
            catch (Exception e) when (e is TimeoutException or OrleansException or InvalidOperationException)
            {
                return true;
            }
        }

        return false;
    }
}
