using Microsoft.Extensions.Logging;
using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

// The group's membership as a replica move changes it, at the leader: a learner added, a slot removed only while the
// move's other slot votes, and the hand-off of a leader that is the slot to remove.
internal abstract partial class ReplicaGrain
{
    /// <summary>
    /// Leader: adds incarnation <paramref name="incarnation"/> of replica slot <paramref name="replica"/> to the group as
    /// a learner the leader promotes once it has caught up (the first step of a replica move); null when that is done or
    /// proposed, else why not yet.
    /// </summary>
    /// <exception cref="NotLeaderException">This replica does not lead.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="replica"/> is not a slot (0 to 6) or <paramref name="incarnation"/> is 0 (no incarnation).</exception>
    public Task<string?> AddReplicaAsync(int replica, long incarnation)
    {
        // Checked before anything is proposed: a member outside the slots would be committed into every replica's
        // configuration, and each leader of the group would then fail every send to it.
        CheckSlot(replica, nameof(replica));
        ArgumentOutOfRangeException.ThrowIfZero(incarnation); // a Scarab ID cast to long: negative from 2059 on, 0 never
        var node = LeaderNode();
        var id = ReplicaDriver.RaftId(replica);
        if (node.Config.TryGetMember(id, out var member, out _))
        {
            // Another incarnation in the slot (the target silo lost it): replace it, as any rejoin does.
            return Task.FromResult(member.Incarnation == incarnation
                ? null
                : Driver!.ChangeMembership(new ConfigChange(ConfigChangeType.Rejoin, new Member(id, incarnation))));
        }

        var refused = Driver!.ChangeMembership(new ConfigChange(ConfigChangeType.AddLearner, new Member(id, incarnation, AutoPromote: true)));
        if (refused is null)
        {
            Logger.LogInformation("Replica {Key} adds replica {Replica} (incarnation {Incarnation}) to its group as a learner", Key, replica, incarnation);
        }

        return Task.FromResult(refused);
    }

    /// <summary>
    /// Leader: removes replica slot <paramref name="replica"/> from the group (the last step of a replica move, or an
    /// abandon's), but only while slot <paramref name="keep"/> is a voter; null when it is not a member or its removal
    /// was proposed, else why not yet or why not. A leader asked to remove itself hands its leadership first: to
    /// <paramref name="successor"/> when that is a voter (waiting, call after call, until it is caught up, so a silo that
    /// joins leads the groups whose leaders moved to it rather than whichever voter was ahead at the moment), else to its
    /// most caught-up voter.
    /// </summary>
    /// <exception cref="NotLeaderException">This replica does not lead.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="replica"/> or <paramref name="keep"/> is not a slot (0 to 6), or they are the same slot.</exception>
    public Task<string?> RemoveReplicaAsync(int replica, int successor, int keep)
    {
        CheckSlot(replica, nameof(replica));
        if (keep < 0 || keep >= ReplicaGrainKey.MaxReplicationFactor || keep == replica)
        {
            throw new ArgumentOutOfRangeException(nameof(keep), keep, $"the replica to keep must be another slot than replica {replica}, the one to remove");
        }

        return Task.FromResult(RemoveReplica(replica, successor, keep));
    }

    /// <summary>The removal without the keep check, for movers of older builds and below metadata version 2 (see the interface).</summary>
    /// <exception cref="NotLeaderException">This replica does not lead.</exception>
    public Task<string?> RemoveReplicaAsync(int replica, int successor)
    {
        CheckSlot(replica, nameof(replica));
        return Task.FromResult(RemoveReplica(replica, successor, keep: null));
    }

    private static void CheckSlot(int slot, string name)
    {
        if (slot < 0 || slot >= ReplicaGrainKey.MaxReplicationFactor)
        {
            throw new ArgumentOutOfRangeException(name, slot, $"a replica slot is 0 to {ReplicaGrainKey.MaxReplicationFactor - 1}");
        }
    }

    private string? RemoveReplica(int replica, int successor, int? keep)
    {
        var node = LeaderNode();
        var id = ReplicaDriver.RaftId(replica);
        if (!node.Config.TryGetMember(id, out var member, out _))
        {
            return null;
        }

        // A move's two runs (a metadata leadership change) may remove one slot each: the moved one, and the new one an
        // abandon drops. Checked in this turn against the latest configuration, pending change included (one at a time),
        // whichever removal comes second sees the first, so the group never loses both. Before the hand-off too: a
        // leader that may not remove itself has no reason to give its leadership away. The slot kept must vote, not only
        // be in: a learner may hold nothing (a new incarnation that a rejoin made a learner again, after its silo
        // stopped), and removing the other slot then would leave the group a voter short and retire a complete copy.
        if (keep is { } kept)
        {
            if (!node.Config.TryGetMember(ReplicaDriver.RaftId(kept), out var keptMember, out var keptVotes))
            {
                return $"replica {kept} is not a member of the group, so replica {replica} is not removed: a move removes one of its two slots only while the other is in";
            }

            if (!keptVotes)
            {
                return $"replica {kept} is a learner (incarnation {keptMember.Incarnation}), not a voter, so replica {replica} is not removed: a move removes one of its two slots only while the other votes";
            }
        }

        if (id == node.Id)
        {
            if (successor >= 0 && successor != Replica && node.Config.TryGetMember(ReplicaDriver.RaftId(successor), out _, out var isVoter) && isVoter)
            {
                return Driver!.HandLeadershipTo(successor)
                    ? $"the leader is the replica to remove: it hands its leadership to replica {successor} first"
                    : $"the leader is the replica to remove: it waits for replica {successor} to catch up and take over";
            }

            var to = Driver!.HandOffLeadership();
            return to == 0
                ? "the leader is the replica to remove and none of its voters is caught up to take over"
                : $"the leader is the replica to remove: it hands its leadership to replica {ReplicaDriver.Replica(to)} first";
        }

        var refused = Driver!.ChangeMembership(new ConfigChange(ConfigChangeType.Remove, member));
        if (refused is null)
        {
            Logger.LogInformation("Replica {Key} removes replica {Replica} from its group", Key, replica);
        }

        return refused;
    }

    private RaftNode LeaderNode()
    {
        var node = Driver?.Node;
        if (node is not { Role: RaftRole.Leader })
        {
            var leader = node is null ? -1 : ReplicaDriver.Replica(node.Leader);
            throw new NotLeaderException(Key, leader < 0 || leader == Replica ? null : Peer(leader).GetPrimaryKeyString());
        }

        return node;
    }
}
