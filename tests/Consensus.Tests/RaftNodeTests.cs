using System.Text;
using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>Direct tests of the node's API contract: errors for misuse, elections, commit, reads, membership.</summary>
public sealed class RaftNodeTests
{
    [Fact]
    public void SingleNodeElectsItselfAndCommitsAfterPersisting()
    {
        var cluster = new TestCluster(1);
        var leader = cluster.ElectLeader();
        Assert.Equal(1, leader.Id);
        var r = leader.Propose(Encoding.UTF8.GetBytes("hello"));
        Assert.True(r.Accepted);
        var ready = leader.GetReady();
        var batch = ready.ToPersist!;
        Assert.Single(batch.Entries);
        Assert.Equal(0, ready.CommittedEntries.Length);
        cluster.Storages[1].Write(batch);
        leader.Advance();

        // Written but not yet reported durable: the leader does not count its own entry.
        Assert.True(leader.CommitIndex < r.LastIndex);
        Assert.False(leader.HasReady);
        leader.Persisted(batch.Mark);
        Assert.Equal(r.LastIndex, leader.CommitIndex);
        var next = leader.GetReady();
        Assert.Equal("hello", Encoding.UTF8.GetString(next.CommittedEntries[^1].Data.Span));
        leader.Advance();
    }

    [Fact]
    public void ProposalToFollowerNamesTheLeader()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        var follower = cluster[leader.Id % 3 + 1];
        var r = follower.Propose(new byte[] { 1 });
        Assert.Equal(ProposeStatus.NotLeader, r.Status);
        Assert.Equal(leader.Id, r.LeaderHint);
    }

    [Fact]
    public void FollowerReadIndexIsForwardedToTheLeader()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        var follower = cluster[leader.Id % 3 + 1];
        var r = follower.ReadIndex(7);
        Assert.True(r.Accepted);
        Assert.Equal(leader.Id, r.LeaderHint);
        cluster.Settle();
        Assert.Equal(new ReadState(leader.CommitIndex, 7), Assert.Single(cluster.Reads[follower.Id]));
        Assert.Empty(cluster.Reads[leader.Id]);
    }

    /// <summary>
    /// A stand-in (a replica's next incarnation, started empty elsewhere) hears the leader's heartbeats before its group
    /// rejoins it, and the leader drops whatever another incarnation than the configured one sends it: a read it forwarded
    /// then would never be answered. It refuses the read at once,
    /// naming the leader, until its configuration names it; from then on its reads are forwarded and answered.
    /// </summary>
    [Fact]
    public void AReplicaNotYetInItsGroupRefusesReadsAndNamesTheLeader()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        var moved = leader.Id % 3 + 1;
        cluster.Replace(moved, 2, new MemoryRaftStorage());
        var standIn = cluster[moved];
        cluster.TickAll(2);
        Assert.Equal(leader.Id, standIn.Leader);
        Assert.False(standIn.IsMember);

        var refused = standIn.ReadIndex(7);
        Assert.Equal((ProposeStatus.NotLeader, leader.Id), (refused.Status, refused.LeaderHint));

        for (var t = 0; t < 100 && !standIn.IsMember; t++)
        {
            cluster.TickAll();
        }

        Assert.True(standIn.IsMember, leader.Config.ToString());
        Assert.True(standIn.ReadIndex(8).Accepted);
        cluster.Settle();
        Assert.Equal(8, Assert.Single(cluster.Reads[moved]).Context);
    }

    [Fact]
    public void AReplacedIncarnationThatMissedItsReplacementIsRefusedItsReadAtOnce()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        var moved = leader.Id % 3 + 1;
        var old = cluster[moved];
        cluster.Replace(moved, 2, new MemoryRaftStorage());
        for (var t = 0; t < 100 && !cluster[moved].IsMember; t++)
        {
            cluster.TickAll();
        }

        Assert.True(cluster[moved].IsMember, leader.Config.ToString());

        // The old incarnation still holds the configuration that names it, so it forwards a read to the leader.
        Assert.True(old.IsMember);
        Assert.True(old.ReadIndex(9).Accepted);
        var forwarded = Assert.Single(SynchronousHost.HandleReady(old, new MemoryRaftStorage()), m => m.Type == MessageType.ReadIndex);
        leader.Step(forwarded);
        var answer = Assert.Single(SynchronousHost.HandleReady(leader, cluster.Storages[leader.Id]), m => m.To == moved);
        Assert.Equal((MessageType.ReadIndexResponse, 1L, true, 9L), (answer.Type, answer.ToIncarnation, answer.Reject, answer.Context));

        old.Step(answer);
        var reads = new List<ReadState>();
        SynchronousHost.HandleReady(old, new MemoryRaftStorage(), reads: reads);
        Assert.Equal(new ReadState(0, 9, Refused: true), Assert.Single(reads));
    }

    [Fact]
    public void ReplicatedProposalsCommitEverywhereInOrder()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        ReadOnlyMemory<byte>[] batch = [new byte[] { 1 }, new byte[] { 2 }, new byte[] { 3 }];
        var r = leader.Propose(batch);
        Assert.Equal(r.FirstIndex + 2, r.LastIndex);
        cluster.Settle();
        cluster.TickAll(2);
        foreach (var id in new long[] { 1, 2, 3 })
        {
            var data = cluster.Applied[id].Where(e => e.Index >= r.FirstIndex).Select(e => e.Data.Span[0]).ToArray();
            Assert.Equal(new byte[] { 1, 2, 3 }, data);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void FollowersLearnANewCommitIndexAtOnceOrWithTheNextHeartbeat(bool broadcastCommit)
    {
        var cluster = new TestCluster(1, 2, 3);
        foreach (var id in new long[] { 1, 2, 3 })
        {
            var node = new RaftNode(new RaftOptions
            {
                Id = id, Incarnation = 1, Storage = cluster.Storages[id], Random = new SeededRaftRandom((ulong)id), BroadcastCommit = broadcastCommit,
            });
            cluster.Put(id, node, cluster.Storages[id]);
        }

        var leader = cluster.ElectLeader();
        cluster.TickAll(); // every follower knows the election's commit
        var r = leader.Propose([new byte[] { 7 }]);
        cluster.Settle(); // no tick: only the messages the proposal caused
        Assert.Equal(r.LastIndex, leader.CommitIndex);
        foreach (var follower in new long[] { 1, 2, 3 }.Where(id => id != leader.Id))
        {
            Assert.Equal(broadcastCommit, cluster.Applied[follower].Any(e => e.Index == r.LastIndex));
        }

        cluster.TickAll(); // a heartbeat carries the commit index
        foreach (var id in new long[] { 1, 2, 3 })
        {
            Assert.Equal(r.LastIndex, cluster[id].CommitIndex);
            Assert.Contains(cluster.Applied[id], e => e.Index == r.LastIndex);
        }
    }

    [Fact]
    public void ALeaderThatCannotCommitPushesBackOnProposals()
    {
        var storage = MemoryRaftStorage.Bootstrap(ClusterConfig.Of(9));
        var bounded = new RaftNode(new RaftOptions
        {
            Id = 9,
            Storage = storage,
            Random = new SeededRaftRandom(9),
            MaxUncommittedEntries = 3,
        });
        for (var t = 0; t < 30 && bounded.Role != RaftRole.Leader; t++)
        {
            bounded.Tick();
            while (bounded.HasReady)
            {
                SynchronousHost.HandleReady(bounded, storage);
            }
        }

        // From here on the host never reports a write durable, so the leader never commits what it appends.
        Assert.Equal(RaftRole.Leader, bounded.Role);
        Assert.True(bounded.Propose([new byte[] { 1 }, new byte[] { 2 }, new byte[] { 3 }]).Accepted);
        var r = bounded.Propose(new byte[] { 4 });
        Assert.Equal(ProposeStatus.Backpressure, r.Status);
        Assert.NotNull(r.Error);
    }

    [Fact]
    public void UsingTheNodeWithAReadyOutstandingThrows()
    {
        var cluster = new TestCluster(1);
        var node = cluster[1];
        Assert.Throws<InvalidOperationException>(() => node.Advance());
        node.Tick();
        _ = node.GetReady();
        Assert.Throws<InvalidOperationException>(() => node.Tick());
        Assert.Throws<InvalidOperationException>(() => node.Propose(new byte[] { 1 }));
        node.Advance();
    }

    [Fact]
    public void ReadIndexAnswersAfterAQuorumConfirmsLeadership()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        var commit = leader.CommitIndex;
        Assert.True(leader.ReadIndex(99).Accepted);
        cluster.Settle();
        var read = Assert.Single(cluster.Reads[leader.Id]);
        Assert.Equal(new ReadState(commit, 99), read);
    }

    [Fact]
    public void IsolatedLeaderStepsDownAndReadsDoNotComplete()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        cluster.Isolated.Add(leader.Id);
        Assert.True(leader.ReadIndex(5).Accepted);
        cluster.TickAll(25);
        Assert.NotEqual(RaftRole.Leader, leader.Role);
        Assert.DoesNotContain(cluster.Reads[leader.Id], r => r.Context == 5);
    }

    [Fact]
    public void MembershipChangesAreOneAtATimeAndTheLeaderCannotRemoveItself()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        Assert.Equal(ProposeStatus.InvalidConfigChange,
            leader.ProposeMembershipChange(new ConfigChange(ConfigChangeType.Remove, new Member(leader.Id, 1))).Status);
        Assert.Equal(ProposeStatus.InvalidConfigChange,
            leader.ProposeMembershipChange(new ConfigChange(ConfigChangeType.AddVoter, new Member(leader.Id % 3 + 1, 1))).Status);
        Assert.True(leader.ProposeMembershipChange(new ConfigChange(ConfigChangeType.AddLearner, new Member(4, 1))).Accepted);
        Assert.Equal(ProposeStatus.ConfigChangePending,
            leader.ProposeMembershipChange(new ConfigChange(ConfigChangeType.AddLearner, new Member(5, 1))).Status);
        cluster.Settle();
        Assert.Contains(new Member(4, 1), leader.Config.Learners);
        Assert.False(leader.Config.IsVoter(4, 1));
    }

    /// <summary>
    /// A move, as the replica mover makes one: a learner added, then another member removed. The leader stops sending
    /// to the removed member (it kept sending it heartbeats for the rest of its term: the group has as many members
    /// as before, and the stale progress was only looked for when there were more progresses than members).
    /// </summary>
    [Fact]
    public void ALeaderSendsNothingMoreToAMemberRemovedAfterALearnerJoined()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        var removed = leader.Id % 3 + 1;
        Assert.True(leader.ProposeMembershipChange(new ConfigChange(ConfigChangeType.AddLearner, new Member(4, 1))).Accepted);
        cluster.Settle();
        Assert.True(leader.ProposeMembershipChange(new ConfigChange(ConfigChangeType.Remove, new Member(removed, 1))).Accepted);
        cluster.Settle();
        Assert.False(leader.Config.TryGetMember(removed, out _, out _));

        leader.Tick();
        var sent = SynchronousHost.HandleReady(leader, cluster.Storages[leader.Id]);
        Assert.Contains(sent, m => m.To == 4);
        Assert.DoesNotContain(sent, m => m.To == removed);
    }

    [Fact]
    public void LeadershipTransferMovesTheLeaderAndRejectsProposalsMeanwhile()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        var target = leader.Id % 3 + 1;
        cluster.Isolated.Add(target);
        Assert.True(leader.TransferLeadership(target).Accepted);
        Assert.Equal(ProposeStatus.TransferInProgress, leader.Propose(new byte[] { 1 }).Status);
        cluster.Isolated.Remove(target);
        cluster.TickAll(3);
        Assert.Equal(RaftRole.Leader, cluster[target].Role);
        Assert.Equal(ProposeStatus.UnknownMember, cluster[target].TransferLeadership(42).Status);
    }

    [Fact]
    public void WipedReplicaRejoinsAsLearnerAndIsPromotedOnceCaughtUp()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        for (var i = 0; i < 20; i++)
        {
            leader.Propose(new byte[] { (byte)i });
        }

        cluster.Settle();
        var wiped = leader.Id % 3 + 1;
        cluster.Replace(wiped, 2, new MemoryRaftStorage());
        Assert.False(cluster[wiped].IsVoter);
        for (var t = 0; t < 50 && !leader.Config.IsVoter(wiped, 2); t++)
        {
            cluster.TickAll();
        }

        // The committed history shows the two single-server steps: old incarnation out and new one in as a learner, then promotion.
        var configs = cluster.Applied[leader.Id].Where(e => e.Type == EntryType.Config).Select(e => ClusterConfig.Decode(e.Data.Span)).ToList();
        var rejoin = configs.FindIndex(c => c.Learners.Contains(new Member(wiped, 2, AutoPromote: true)));
        Assert.True(rejoin >= 0);
        Assert.False(configs[rejoin].TryGetMember(wiped, out _, out var wasVoter) && wasVoter);
        Assert.Equal(2, configs[rejoin].Voters.Count);
        Assert.True(configs[rejoin + 1].IsVoter(wiped, 2));
        Assert.True(leader.Config.IsVoter(wiped, 2));
        Assert.False(leader.Config.IsVoter(wiped, 1));
        Assert.True(cluster[wiped].IsVoter);
        Assert.Equal(leader.CommitIndex, cluster[wiped].CommitIndex);
    }

    [Fact]
    public void VotesFromAnotherIncarnationDoNotCount()
    {
        var node = TestCluster.NewNode(1, 1, MemoryRaftStorage.Bootstrap(ClusterConfig.Of(1, 2, 3)));
        for (var t = 0; t < 30 && node.Role == RaftRole.Follower; t++)
        {
            node.Tick();
        }

        Assert.Equal(RaftRole.PreCandidate, node.Role);
        var term = node.Term + 1;
        node.Step(new Message { Type = MessageType.PreVoteResponse, To = 1, From = 3, FromIncarnation = 2, Term = term });
        Assert.Equal(RaftRole.PreCandidate, node.Role);
        node.Step(new Message { Type = MessageType.PreVoteResponse, To = 1, From = 2, FromIncarnation = 1, Term = term });
        Assert.Equal(RaftRole.Candidate, node.Role);
    }

    /// <summary>
    /// Two followers that lost their leader together pre-campaign for the same term at once, with equal logs: exactly
    /// one of them (the lower id) passes the pre-vote and wins the next term; the other steps back and votes for it.
    /// Granting each other's pre-vote made both candidates, each with its own vote, and the term was lost to a split vote.
    /// With unequal logs the more up-to-date one passes, whatever its id.
    /// </summary>
    [Theory]
    [InlineData(false, 2L)]
    [InlineData(true, 3L)]
    public void RivalPreCandidatesForOneTermLetExactlyOneCampaign(bool thirdIsAhead, long winner)
    {
        var (nodes, storages) = FollowersOfLostLeader();
        if (thirdIsAhead)
        {
            // Node 3 holds one more entry of the old leader's (node 1's) term.
            var last = storages[3].LastIndex;
            nodes[3].Step(new Message
            {
                Type = MessageType.Append, To = 3, From = 1, FromIncarnation = 1, Term = 1, Index = last, LogTerm = storages[3].Term(last),
                Entries = [new LogEntry(last + 1, 1, EntryType.Normal, new byte[] { 1 })],
            });
            Persist(nodes[3], storages[3]);
        }

        var term = nodes[2].Term;
        var outbox = new List<Message>();
        foreach (var node in nodes.Values)
        {
            // A follower's election timeout is drawn from [ElectionTicks, 2 × ElectionTicks): bounded, so a node that never
            // pre-campaigns fails here instead of hanging the suite.
            for (var t = 0; node.Role != RaftRole.PreCandidate; t++)
            {
                Assert.True(t < 2 * node.ElectionTicks, $"node {node.Id} did not pre-campaign after {t} ticks");
                node.Tick();
            }

            outbox.AddRange(SynchronousHost.HandleReady(node, storages[node.Id]));
        }

        DeliverUntilSettled(nodes, storages, outbox);

        Assert.Equal(RaftRole.Leader, nodes[winner].Role);
        Assert.Equal(term + 1, nodes[winner].Term); // no term lost to a split vote
        var loser = nodes[winner == 2 ? 3 : 2];
        Assert.Equal((RaftRole.Follower, term + 1, winner), (loser.Role, loser.Term, loser.Leader));
    }

    /// <summary>
    /// The pre-candidate that wins the tie asked first, while its rival still heard from the lost leader (in its lease:
    /// the request was ignored, unanswered). When the rival pre-campaigns in turn, the first one refuses it and asks
    /// again, and the rival, now out of its lease, grants and steps back: one campaign, not a stall until the next timeout.
    /// </summary>
    [Fact]
    public void APreCandidateThatWinsTheTieAsksARivalThatIgnoredItAgain()
    {
        var (nodes, storages) = FollowersOfLostLeader();
        foreach (var id in new long[] { 2, 3 })
        {
            nodes[id].Step(new Message { Type = MessageType.Heartbeat, To = id, From = 1, FromIncarnation = 1, Term = 1, Commit = 1 });
            Persist(nodes[id], storages[id]);
        }

        for (var t = 0; nodes[2].Role != RaftRole.PreCandidate; t++)
        {
            Assert.True(t < 2 * nodes[2].ElectionTicks, $"node 2 did not pre-campaign after {t} ticks");
            nodes[2].Tick();
        }

        var ignored = SynchronousHost.HandleReady(nodes[2], storages[2]).Single(m => m.To == 3);
        nodes[3].Step(ignored); // node 3 heard from the leader less than an election timeout ago
        Assert.False(nodes[3].HasReady);
        for (var t = 0; nodes[3].Role != RaftRole.PreCandidate; t++)
        {
            Assert.True(t < 2 * nodes[3].ElectionTicks, $"node 3 did not pre-campaign after {t} ticks");
            nodes[3].Tick();
        }

        var outbox = SynchronousHost.HandleReady(nodes[3], storages[3]);
        DeliverUntilSettled(nodes, storages, outbox);

        Assert.Equal((RaftRole.Leader, 2L), (nodes[2].Role, nodes[2].Term));
        Assert.Equal((RaftRole.Follower, 2L, 2L), (nodes[3].Role, nodes[3].Term, nodes[3].Leader));
    }

    /// <summary>A pre-vote from a replica that is not a voter here (a removed one) is answered as usual and does not make a pre-candidate step back.</summary>
    [Fact]
    public void APreCandidateStepsBackOnlyForAVoter()
    {
        var (nodes, storages) = FollowersOfLostLeader();
        var node = nodes[2];
        for (var t = 0; node.Role != RaftRole.PreCandidate; t++)
        {
            Assert.True(t < 2 * node.ElectionTicks, $"node 2 did not pre-campaign after {t} ticks");
            node.Tick();
        }

        SynchronousHost.HandleReady(node, storages[2]);
        node.Step(new Message { Type = MessageType.PreVote, To = 2, From = 4, FromIncarnation = 1, Term = node.Term + 1, Index = storages[2].LastIndex + 5, LogTerm = 1 });
        var answer = Assert.Single(SynchronousHost.HandleReady(node, storages[2]));
        Assert.Equal((MessageType.PreVoteResponse, 4L, false), (answer.Type, answer.To, answer.Reject));
        Assert.Equal(RaftRole.PreCandidate, node.Role);
    }

    [Fact]
    public void AVoteForOneIncarnationIsNotGrantedToAnotherInTheSameTerm()
    {
        var voter = TestCluster.NewNode(2, 1, MemoryRaftStorage.Bootstrap(ClusterConfig.Of(1, 2, 3)));
        var request = new Message { Type = MessageType.Vote, To = 2, From = 1, FromIncarnation = 1, Term = 5, Index = 1, LogTerm = 1 };
        voter.Step(request);
        var ready = voter.GetReady();
        Assert.Empty(ready.Messages);
        var batch = ready.ToPersist!;
        var grant = Assert.Single(batch.MessagesAfterPersist);
        Assert.False(grant.Reject);
        Assert.Equal(1, grant.ToIncarnation);
        Assert.Equal(new HardState(5, 1, 1, 1, 1), batch.HardState);
        Assert.True(batch.HardStateChanged);
        voter.Advance();
        voter.Persisted(batch.Mark);

        voter.Step(new Message { Type = MessageType.Vote, To = 2, From = 1, FromIncarnation = 2, Term = 5, Index = 1, LogTerm = 1 });
        ready = voter.GetReady();
        var refusal = Assert.Single(ready.Messages);
        Assert.True(refusal.Reject);
        Assert.Equal(2, refusal.ToIncarnation);
        voter.Advance();

        // The same incarnation asking again (a retransmission) is granted again.
        voter.Step(request);
        ready = voter.GetReady();
        Assert.False(Assert.Single(ready.ToPersist!.MessagesAfterPersist).Reject);
        Assert.False(ready.ToPersist.HardStateChanged);
        voter.Advance();
    }

    [Fact]
    public void StorageOfAnotherIncarnationIsRefused()
    {
        var storage = MemoryRaftStorage.Bootstrap(ClusterConfig.Of(1));
        var node = TestCluster.NewNode(1, 3, storage);
        node.Tick();
        storage.SetHardState(node.GetReady().ToPersist!.HardState);
        node.Advance();
        Assert.Equal(3, storage.HardState.Incarnation);
        var e = Assert.Throws<ArgumentException>(() => TestCluster.NewNode(1, 4, storage));
        Assert.Contains("incarnation 3", e.Message, StringComparison.Ordinal);
        Assert.Equal(3, TestCluster.NewNode(1, 3, storage).Incarnation);
    }

    [Fact]
    public void InflightAppendsAreBoundedAndBatchedBySize()
    {
        var cluster = new TestCluster([1, 2], maxInflight: 2, maxBytesPerMessage: 60);
        var leader = cluster.ElectLeader();
        var follower = leader.Id == 1 ? 2 : 1;
        var appends = new List<Message>();
        for (var i = 0; i < 10; i++)
        {
            leader.Propose(new byte[] { (byte)i });
            var ready = leader.GetReady();
            appends.AddRange(ready.Messages.Where(m => m.Type == MessageType.Append && m.To == follower));
            var batch = ready.ToPersist!;
            cluster.Storages[leader.Id].Write(batch);
            leader.Advance();
            leader.Persisted(batch.Mark);
        }

        // Two messages in flight, each holding as many 25-byte entries as fit in 60 bytes.
        Assert.Equal(2, appends.Count);
        Assert.All(appends, m => Assert.InRange(m.Entries.Length, 1, 2));
    }

    /// <summary>
    /// A brief duplicate activation: one answer from a second incarnation of a replica must not evict the configured
    /// incarnation, which holds the data and keeps answering (the configured one counts until a Rejoin commits).
    /// </summary>
    [Fact]
    public void OneMessageFromASecondIncarnationDoesNotEvictTheConfiguredOne()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        var duplicated = leader.Id % 3 + 1;
        var third = 6 - leader.Id - duplicated;
        leader.Step(new Message { Type = MessageType.HeartbeatResponse, To = leader.Id, From = duplicated, FromIncarnation = 2, Term = leader.Term });
        cluster.TickAll(30);
        Assert.True(leader.Config.IsVoter(duplicated, 1), leader.Config.ToString());
        Assert.Equal(3, leader.Config.Voters.Count);

        // Not even for a while: no configuration ever left the configured incarnation out.
        Assert.DoesNotContain(cluster.Applied[leader.Id], e => e.Type == EntryType.Config && !ClusterConfig.Decode(e.Data.Span).IsVoter(duplicated, 1));

        // The configured incarnation's acknowledgements still count: with the third replica gone the group commits.
        cluster.Isolated.Add(third);
        var r = leader.Propose(new byte[] { 7 });
        cluster.TickAll(3);
        Assert.Equal(RaftRole.Leader, leader.Role);
        Assert.True(leader.CommitIndex >= r.LastIndex);
    }

    /// <summary>
    /// A member that announces it left (its activation moved to the host with its data) is replaced by the incarnation
    /// that shows up next without the election timeout of silence a crash needs; a leaving notice for an incarnation the
    /// leader does not track changes nothing.
    /// </summary>
    [Fact]
    public void AMemberThatLeftIsRejoinedByItsNextIncarnationAtOnce()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        var moving = leader.Id % 3 + 1;
        leader.MemberLeft(moving, incarnation: 7); // not the configured incarnation: ignored
        leader.Step(new Message { Type = MessageType.HeartbeatResponse, To = leader.Id, From = moving, FromIncarnation = 2, Term = leader.Term });
        cluster.Settle();
        Assert.True(leader.Config.IsVoter(moving, 1));

        // No tick between the notice and the next incarnation's message: only the notice can explain the rejoin.
        leader.MemberLeft(moving, incarnation: 1);
        leader.Step(new Message { Type = MessageType.HeartbeatResponse, To = leader.Id, From = moving, FromIncarnation = 2, Term = leader.Term });
        cluster.Settle();
        Assert.False(leader.Config.IsVoter(moving, 1));
        Assert.True(leader.Config.TryGetMember(moving, out var member, out var isVoter));
        Assert.Equal((2L, false), (member.Incarnation, isVoter));
    }

    /// <summary>
    /// The metadata-group stall of the Slow process-cluster test: one silo's death silenced voter A and, through Orleans'
    /// directory, ended the activation of voter B's configured incarnation too (a stand-in: its slot came back elsewhere
    /// under another incarnation, so that one never answers again). A stand-in of A then answered the leader. Rejoining it
    /// takes A's vote away at once, leaving voters {leader, B}; with B gone for good, no one could be elected once the
    /// leader stepped down, not even after A came back with its data. The leader must not shrink its voters onto one
    /// that has gone quiet: the group keeps A, and once A is back, A and the leader elect.
    /// </summary>
    [Fact]
    public void ALeaderDoesNotRejoinASilentVoterWhileAnotherVoterIsSilentToo()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        var a = leader.Id % 3 + 1;
        var b = 6 - leader.Id - a;
        var homeA = cluster[a];
        var diskA = cluster.Storages[a];
        cluster.Isolated.Add(a);
        cluster.TickAll(12); // A silent past an election timeout; B keeps the leader's quorum

        cluster.Replace(b, 2, new MemoryRaftStorage()); // B's configured incarnation is gone; another runs in its slot
        cluster.TickAll(4);
        cluster.Replace(a, 2, new MemoryRaftStorage()); // a stand-in of A answers the leader
        cluster.Isolated.Remove(a);
        cluster.TickAll(1);
        Assert.True(leader.Config.IsVoter(a, 1), leader.Config.ToString());

        cluster.Put(a, homeA, diskA); // A's home is back with its data
        cluster.TickAll(300);
        var elected = cluster.Leader;
        Assert.NotNull(elected);
        Assert.Equal(elected.LastIndex, elected.CommitIndex);
    }

    /// <summary>
    /// Raft restarts a follower's election timer only on its leader's message or a vote it grants. A vote request it
    /// rejects (the candidate's log is behind) moves its term on but must not restart the timer: a candidate that cannot
    /// win, campaigning again and again without pre-vote, would otherwise keep the one node that could win from ever
    /// campaigning. Two identical nodes, one of them asked for its vote by such a candidate, campaign at the same tick.
    /// </summary>
    [Fact]
    public void ARejectedVoteRequestDoesNotRestartTheElectionTimer()
    {
        RaftNode Node() => new(new RaftOptions
        {
            Id = 1,
            Storage = MemoryRaftStorage.Bootstrap(ClusterConfig.Of(1, 2)),
            Random = new SeededRaftRandom(7),
            PreVote = false,
        });

        var asked = Node();
        var quiet = Node();
        for (var t = 0; t < 5; t++)
        {
            asked.Tick();
            quiet.Tick();
        }

        asked.Step(new Message { Type = MessageType.Vote, To = 1, From = 2, FromIncarnation = 1, Term = 5, Index = 0, LogTerm = 0 });
        Assert.Equal((RaftRole.Follower, 5L), (asked.Role, asked.Term));
        var ticks = 5;
        while (quiet.Role == RaftRole.Follower)
        {
            Assert.True(ticks < 2 * quiet.ElectionTicks, $"no campaign after {ticks} ticks");
            asked.Tick();
            quiet.Tick();
            ticks++;
        }

        Assert.True(ticks < 2 * quiet.ElectionTicks, $"campaigned after {ticks} ticks");
        Assert.Equal(RaftRole.Candidate, asked.Role);
        Assert.Equal(6, asked.Term);
    }

    /// <summary>
    /// The new incarnation is the short-lived one: while the configured incarnation was cut off, a new one answered
    /// and was rejoined; then the new one disappears and the old one (with its data) is back. The old one must be able
    /// to rejoin (as a learner, promoted once caught up).
    /// </summary>
    [Fact]
    public void AReplicaWhoseNewIncarnationDiedRejoinsAtItsOldIncarnation()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        var replica = leader.Id % 3 + 1;
        var oldNode = cluster[replica];
        var oldStorage = cluster.Storages[replica];
        cluster.Replace(replica, 2, new MemoryRaftStorage());
        for (var t = 0; t < 60 && !leader.Config.IsVoter(replica, 2); t++)
        {
            cluster.TickAll();
        }

        Assert.True(leader.Config.IsVoter(replica, 2), leader.Config.ToString());
        cluster.Put(replica, oldNode, oldStorage);
        for (var t = 0; t < 60 && !leader.Config.IsVoter(replica, 1); t++)
        {
            leader.Propose(new byte[] { (byte)t });
            cluster.TickAll();
        }

        Assert.True(leader.Config.IsVoter(replica, 1), leader.Config.ToString());
        Assert.Equal(leader.CommitIndex, oldNode.CommitIndex);
    }

    /// <summary>
    /// A follower verified entries under leader L in term 5; L loses the term and wins again in term 7, where its log
    /// may differ beyond the committed prefix. A heartbeat of term 7 (whose Commit may come from another incarnation's
    /// match) must not make the follower commit what it verified in term 5.
    /// </summary>
    [Fact]
    public void VerificationFromAnEarlierTermOfTheSameLeaderDoesNotLetAHeartbeatCommit()
    {
        var storage = MemoryRaftStorage.Bootstrap(ClusterConfig.Of(1, 2, 3));
        var follower = TestCluster.NewNode(2, 1, storage);
        follower.Step(new Message
        {
            Type = MessageType.Append, To = 2, From = 1, FromIncarnation = 1, Term = 5, Index = 1, LogTerm = 1, Commit = 1,
            Entries = [new LogEntry(2, 5, EntryType.Normal, new byte[] { 1 }), new LogEntry(3, 5, EntryType.Normal, new byte[] { 2 })],
        });
        Persist(follower, storage);
        Assert.Equal(1, follower.CommitIndex);

        follower.Step(new Message { Type = MessageType.Heartbeat, To = 2, From = 1, FromIncarnation = 1, Term = 7, Commit = 3 });
        Persist(follower, storage);
        Assert.Equal(7, follower.Term);
        Assert.Equal(1, follower.Leader);
        Assert.Equal(1, follower.CommitIndex);
    }

    /// <summary>
    /// A follower that missed one Append of a pipeline (Orleans reorders and drops one-way messages) while its disk is
    /// slow: the leader probes from what the follower holds, and does not send it again on every heartbeat.
    /// </summary>
    [Fact]
    public void AProbingLeaderSendsOnlyWhatTheFollowerLacks()
    {
        var cluster = new TestCluster(1, 2, 3);
        var leader = cluster.ElectLeader();
        var f = leader.Id % 3 + 1;
        var follower = cluster[f];
        var last = leader.LastIndex;
        List<Message> ToFollower() =>
            SynchronousHost.HandleReady(leader, cluster.Storages[leader.Id]).Where(m => m.To == f && m.Type == MessageType.Append).ToList();

        leader.Propose(new byte[] { 1 });
        follower.Step(Assert.Single(ToFollower())); // held in memory: the follower's disk has not written it yet
        leader.Propose(new byte[] { 2 });
        Assert.Single(ToFollower()); // lost
        leader.Propose(new byte[] { 3 });
        follower.Step(Assert.Single(ToFollower())); // a gap: refused
        var ready = follower.GetReady();
        var slowWrite = ready.ToPersist!;
        leader.Step(Assert.Single(ready.Messages, m => m.Reject));
        follower.Advance();

        // The probe starts after the entry the follower holds (not yet durable), not after the one it acknowledged.
        var probe = Assert.Single(ToFollower());
        Assert.Equal(last + 1, probe.Index);
        Assert.Equal([last + 2, last + 3], probe.Entries.Select(e => e.Index));
        follower.Step(probe);
        var secondWrite = follower.GetReady().ToPersist!;
        follower.Advance();

        // The follower's disk is still busy; a heartbeat round tells the leader what it holds, and nothing is resent.
        leader.Tick();
        var heartbeat = Assert.Single(SynchronousHost.HandleReady(leader, cluster.Storages[leader.Id]), m => m.To == f && m.Type == MessageType.Heartbeat);
        follower.Step(heartbeat);
        ready = follower.GetReady();
        leader.Step(Assert.Single(ready.Messages, m => m.Type == MessageType.HeartbeatResponse));
        follower.Advance();
        var next = Assert.Single(ToFollower());
        Assert.Equal((last + 3, 0), (next.Index, next.Entries.Length));

        // The disk catches up: the acknowledgements go out and the leader counts the follower again.
        var acks = new List<Message>();
        foreach (var write in new[] { slowWrite, secondWrite })
        {
            cluster.Storages[f].Write(write);
            follower.Persisted(write.Mark);
            acks.AddRange(write.MessagesAfterPersist);
        }

        follower.Step(next);
        foreach (var ack in acks)
        {
            leader.Step(ack);
        }

        cluster.Settle();
        Assert.Equal(last + 3, cluster.Storages[f].LastIndex);
        Assert.Equal(last + 3, leader.CommitIndex);
    }

    /// <summary>Nodes 2 and 3 of the group {1, 2, 3}, freshly bootstrapped: node 1, their leader, is gone.</summary>
    private static (Dictionary<long, RaftNode> Nodes, Dictionary<long, MemoryRaftStorage> Storages) FollowersOfLostLeader()
    {
        var storages = new Dictionary<long, MemoryRaftStorage>();
        var nodes = new Dictionary<long, RaftNode>();
        foreach (var id in new long[] { 2, 3 })
        {
            storages[id] = MemoryRaftStorage.Bootstrap(ClusterConfig.Of(1, 2, 3));
            nodes[id] = TestCluster.NewNode(id, 1, storages[id]);
        }

        return (nodes, storages);
    }

    /// <summary>Delivers the messages between the nodes (those to anyone else are lost) and handles their Readys until nothing moves.</summary>
    private static void DeliverUntilSettled(Dictionary<long, RaftNode> nodes, Dictionary<long, MemoryRaftStorage> storages, List<Message> outbox)
    {
        for (var round = 0; outbox.Count > 0; round++)
        {
            Assert.True(round < 20, "the group did not settle");
            var delivering = outbox.Where(m => nodes.ContainsKey(m.To)).ToList();
            outbox.Clear();
            foreach (var m in delivering)
            {
                nodes[m.To].Step(m);
            }

            foreach (var node in nodes.Values)
            {
                while (node.HasReady)
                {
                    outbox.AddRange(SynchronousHost.HandleReady(node, storages[node.Id]));
                }
            }
        }
    }

    private static void Persist(RaftNode node, MemoryRaftStorage storage)
    {
        while (node.HasReady)
        {
            SynchronousHost.HandleReady(node, storage);
        }
    }
}
