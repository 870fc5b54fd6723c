using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Tests.Partitions;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// A partition's leader removes a slot only while the slot to keep is a member, checked against its latest configuration
/// in the turn that proposes the removal: of a move's two runs racing to remove one slot each (the moved one, and the new
/// one an abandon drops), the second is refused, so the group never loses both. Before, each removal went through on its
/// run's own reading and the group stayed a voter short for good. A member is not enough: the slot kept must vote, as a
/// learner may hold nothing yet (before, a move whose new replica a rejoin had made a learner again removed the moved
/// replica, and retired its complete copy). Shared three-silo cluster.
/// </summary>
[Collection(PartitionClusterCollection.Name)]
public sealed class KeptSlotRemovalTests(PartitionClusterFixture fixture)
{
    // A free slot of a three-slot partition: never a member of its group.
    private const int Absent = 3;

    [Fact]
    public async Task The_leader_removes_a_slot_only_while_the_slot_to_keep_is_a_member()
    {
        var grains = fixture.Cluster.Client;
        var log = await grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("kept-slot-removal", 1, 3);
        var leader = await PartitionCalls.LeaderAsync(grains, log, 0);
        var self = (await leader.GetStatusAsync()).LeaderReplica;
        var followers = log.ReplicaSlots(0).Where(s => s != self).ToArray();
        var (removed, kept) = (followers[0], followers[1]);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => leader.RemoveReplicaAsync(removed, -1, removed));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => leader.RemoveReplicaAsync(removed, -1, -1));

        // The slot to keep is out: neither a follower nor the leader itself goes (the leader does not even hand its
        // leadership away, as it would before removing itself).
        Assert.Equal(Refusal(removed, Absent), await leader.RemoveReplicaAsync(removed, -1, Absent));
        Assert.Equal(Refusal(self, Absent), await leader.RemoveReplicaAsync(self, kept, Absent));
        var unchanged = await leader.GetStatusAsync();
        Assert.Equal(ReplicaRole.Leader, unchanged.Role);
        Assert.Equal(log.ReplicaSlots(0), Members(unchanged.VoterIncarnations));
        Assert.Empty(Members(unchanged.LearnerIncarnations));

        // The slot to keep is in: removed. The other removal of the race, keeping the slot just removed, is refused while
        // that removal is pending and once it is committed.
        Assert.Null(await leader.RemoveReplicaAsync(removed, -1, kept));
        Assert.Equal(Refusal(kept, removed), await leader.RemoveReplicaAsync(kept, -1, removed));
        await PartitionCalls.WaitAsync(async () => (await leader.GetStatusAsync()) is { ConfigCommitted: true } s && Member(s.VoterIncarnations, removed) == 0,
            $"replica {removed}'s removal committed", TimeSpan.FromSeconds(30));
        Assert.Equal(Refusal(kept, removed), await leader.RemoveReplicaAsync(kept, -1, removed));

        var after = await leader.GetStatusAsync();
        Assert.Equal(ReplicaRole.Leader, after.Role);
        Assert.True(after.ConfigCommitted);
        Assert.Equal(new[] { self, kept }.Order(), Members(after.VoterIncarnations));
        Assert.Empty(Members(after.LearnerIncarnations));
    }

    [Fact]
    public async Task The_leader_removes_a_slot_only_while_the_slot_to_keep_votes_not_while_it_only_learns()
    {
        var grains = fixture.Cluster.Client;
        var log = await grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("kept-slot-learner", 1, 3);
        var leader = await PartitionCalls.LeaderAsync(grains, log, 0);
        var self = (await leader.GetStatusAsync()).LeaderReplica;
        var followers = log.ReplicaSlots(0).Where(s => s != self).ToArray();
        var (removed, successor) = (followers[0], followers[1]);

        // A learner that never catches up: slot 3 has no home, so no silo runs its replica (as a move's new replica that a
        // rejoin made a learner again, holding nothing).
        const long learnerIncarnation = 12345;
        Assert.Null(await leader.AddReplicaAsync(Absent, learnerIncarnation));
        await PartitionCalls.WaitAsync(async () => (await leader.GetStatusAsync()) is { ConfigCommitted: true } s && Member(s.LearnerIncarnations, Absent) == learnerIncarnation,
            $"replica {Absent} a learner", TimeSpan.FromSeconds(30));

        // Keeping the learner, neither a follower nor the leader itself goes (no hand-off either).
        Assert.Equal(LearnerRefusal(removed, Absent, learnerIncarnation), await leader.RemoveReplicaAsync(removed, -1, Absent));
        Assert.Equal(LearnerRefusal(self, Absent, learnerIncarnation), await leader.RemoveReplicaAsync(self, successor, Absent));
        var unchanged = await leader.GetStatusAsync();
        Assert.Equal(ReplicaRole.Leader, unchanged.Role);
        Assert.True(unchanged.ConfigCommitted);
        Assert.Equal(log.ReplicaSlots(0), Members(unchanged.VoterIncarnations));
        Assert.Equal([Absent], Members(unchanged.LearnerIncarnations));

        // Keeping a voter, the learner goes.
        Assert.Null(await leader.RemoveReplicaAsync(Absent, -1, removed));
        var after = await StatusOnceAsync(leader, s => s.ConfigCommitted && Member(s.LearnerIncarnations, Absent) == 0, $"replica {Absent}'s removal committed");
        Assert.Equal(log.ReplicaSlots(0), Members(after.VoterIncarnations));
        Assert.Empty(Members(after.LearnerIncarnations));
    }

    private static async Task<ReplicaStatus> StatusOnceAsync(IPartitionReplicaGrain leader, Func<ReplicaStatus, bool> condition, string what)
    {
        ReplicaStatus? last = null;
        await PartitionCalls.WaitAsync(async () => condition(last = await leader.GetStatusAsync()), what, TimeSpan.FromSeconds(30));
        return last!;
    }

    private static string LearnerRefusal(int replica, int keep, long incarnation) =>
        $"replica {keep} is a learner (incarnation {incarnation}), not a voter, so replica {replica} is not removed: a move removes one of its two slots only while the other votes";

    private static string Refusal(int replica, int keep) =>
        $"replica {keep} is not a member of the group, so replica {replica} is not removed: a move removes one of its two slots only while the other is in";

    private static long Member(long[] incarnations, int slot) => slot < incarnations.Length ? incarnations[slot] : 0;

    private static int[] Members(long[] incarnations) => [.. Enumerable.Range(0, incarnations.Length).Where(s => incarnations[s] != 0)];
}
