using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>The node's side of quiescence and of a host that restores its applied index.</summary>
public class QuiescenceTests
{
    [Fact]
    public void A_leader_may_quiesce_only_once_every_voter_matched_and_everything_is_committed()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        cluster.TickAll(); // one more heartbeat round: every follower has acknowledged the no-op
        Assert.True(leader.CanQuiesce);

        Assert.True(leader.Propose("x"u8.ToArray()).Accepted);
        Assert.False(leader.CanQuiesce); // uncommitted and not yet durable
        cluster.Isolated.Add(3);
        cluster.Settle();
        Assert.Equal(leader.LastIndex, leader.CommitIndex);
        Assert.False(leader.CanQuiesce); // replica 3 has not matched the last entry

        cluster.Isolated.Clear();
        cluster.TickAll();
        Assert.True(leader.CanQuiesce);
        foreach (var id in new long[] { 1, 2, 3 })
        {
            Assert.False(cluster[id].Role != RaftRole.Leader && cluster[id].CanQuiesce);
        }
    }

    [Fact]
    public void A_leader_does_not_quiesce_while_a_matched_voter_has_gone_silent()
    {
        var (cluster, leader, dead) = QuiescentLeaderAndAVoter();

        // The voter matched everything, then died: its silence must keep the leader awake (and counting it), or a new
        // incarnation of it could never rejoin.
        cluster.Isolated.Add(dead);
        cluster.TickAll(6);
        Assert.False(leader.CanQuiesce);
        cluster.Isolated.Clear();
        cluster.TickAll();
        Assert.True(leader.CanQuiesce);

        // A voter that dies during a quiet spell: woken, the leader does not quiesce again until every voter answered.
        leader.Unquiesce();
        Assert.False(leader.CanQuiesce);
        cluster.Isolated.Add(dead);
        cluster.TickAll(20);
        Assert.False(leader.CanQuiesce);
        cluster.Isolated.Clear();
        cluster.TickAll();
        Assert.True(leader.CanQuiesce);
    }

    [Fact]
    public void A_leader_told_to_forget_what_it_heard_does_not_quiesce_until_every_voter_answers_again()
    {
        var (cluster, leader, dead) = QuiescentLeaderAndAVoter();

        // A voter dies just after it answered, while the leader counts down to quiescence; the host learns of a death.
        cluster.Isolated.Add(dead);
        leader.ForgetHeardForQuiescence();
        Assert.False(leader.CanQuiesce);
        cluster.TickAll(20);
        Assert.False(leader.CanQuiesce); // the dead voter never answers again
        Assert.Equal(RaftRole.Leader, leader.Role); // and no timer restarted: it leads on

        cluster.Isolated.Clear();
        cluster.TickAll();
        Assert.True(leader.CanQuiesce);
        cluster[leader.Id == 1 ? 2 : 1].ForgetHeardForQuiescence(); // a follower: nothing to forget
    }

    /// <summary>
    /// A voter's configured incarnation moves away just after it answered (a stand-in going home in RetentionCatchUpTests,
    /// its leaving notice not acted on), and its next incarnation answers the leader. The leader must stay awake until it
    /// has rejoined the new incarnation: quiesced, it sent nothing more, the new incarnation waited for its messages, and
    /// the group named a voter that no longer ran until some proposal woke it.
    /// </summary>
    [Fact]
    public void A_leader_does_not_quiesce_while_another_incarnation_of_a_voter_answers_until_it_rejoined_it()
    {
        var (cluster, leader, moved) = QuiescentLeaderAndAVoter();
        cluster.Replace(moved, 2, new MemoryRaftStorage());
        leader.Step(new Message { Type = MessageType.HeartbeatResponse, To = leader.Id, From = moved, FromIncarnation = 2, Term = leader.Term });
        for (var tick = 0; !(leader.Config.TryGetMember(moved, out var member, out var isVoter) && member.Incarnation == 2 && isVoter); tick++)
        {
            Assert.True(tick < 200, $"the new incarnation of {moved} never became a voter: {leader.Config}");
            Assert.False(leader.CanQuiesce, $"the leader may quiesce at tick {tick} with {leader.Config}");
            cluster.TickAll();
        }

        cluster.TickAll();
        Assert.True(leader.CanQuiesce);
    }

    [Fact]
    public void A_follower_woken_after_a_quiet_spell_does_not_campaign_before_an_election_timeout()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        var follower = cluster[leader.Id == 1 ? 2 : 1];
        var term = follower.Term;

        // The follower's clock ran right up to its timeout before it was quiesced; waking restarts it.
        for (var i = 0; i < 9; i++)
        {
            follower.Tick();
        }

        follower.Unquiesce();
        for (var i = 0; i < 9; i++)
        {
            follower.Tick();
        }

        Assert.Equal(RaftRole.Follower, follower.Role);
        Assert.Equal(term, follower.Term);
    }

    [Fact]
    public void A_leader_woken_after_a_quiet_spell_keeps_leading_through_check_quorum()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        cluster.Isolated.Add(2);
        cluster.Isolated.Add(3);
        for (var i = 0; i < 9; i++)
        {
            leader.Tick(); // the quiet spell, as seen by a leader whose followers stopped answering
        }

        leader.Unquiesce();
        cluster.Isolated.Clear();
        cluster.TickAll(12);
        Assert.Equal(RaftRole.Leader, leader.Role);
    }

    [Fact]
    public void A_node_built_with_the_hosts_applied_index_hands_out_only_later_entries()
    {
        var cluster = new TestCluster(1);
        var leader = cluster.ElectLeader();
        leader.Propose("a"u8.ToArray());
        leader.Propose("b"u8.ToArray());
        cluster.Settle();
        var storage = cluster.Storages[1];
        var commit = storage.HardState.Commit;
        Assert.Equal(4, commit); // configuration, no-op, a, b

        var restarted = new RaftNode(new RaftOptions { Id = 1, Storage = storage, Random = new SeededRaftRandom(1), Applied = 3 });
        var ready = restarted.GetReady();
        Assert.Equal([4L], ready.CommittedEntries.ToArray().Select(e => e.Index));
        restarted.Advance();

        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new RaftNode(new RaftOptions { Id = 1, Storage = storage, Random = new SeededRaftRandom(1), Applied = commit + 1 }));
    }

    /// <summary>Three replicas whose elected leader may quiesce, and the id of a voter other than the leader.</summary>
    private static (TestCluster Cluster, RaftNode Leader, long Voter) QuiescentLeaderAndAVoter()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        cluster.TickAll();
        Assert.True(leader.CanQuiesce);
        return (cluster, leader, leader.Id == 3 ? 2 : 3);
    }
}
