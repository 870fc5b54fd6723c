using System.Text;
using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Partitions;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// What a replica owes the callers of its proposals and reads when leadership changes under them: every one gets an
/// answer, never silence. Three drivers on real stores, messages delivered by hand between the replicas a step allows.
/// </summary>
public sealed class LeadershipChangeTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"pyralog-leadership-change-{Guid.NewGuid():N}");
    private readonly TurnContext _turns = new();
    private readonly List<(int To, RaftEnvelope Envelope)> _network = [];
    private readonly List<SimulatedActivation> _replicas = [];

    public async Task InitializeAsync()
    {
        for (var slot = 0; slot < 3; slot++)
        {
            _replicas.Add(await SimulatedActivation.OpenAsync(Path.Combine(_root, $"silo{slot}"), slot, incarnation: 100 + slot, _network));
        }

        var founding = new ClusterConfig([new Member(1, 100), new Member(2, 101), new Member(3, 102)], []);
        foreach (var r in _replicas)
        {
            await r.Storage.BootstrapAsync(founding, default);
            await r.StartAsync();
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var r in _replicas)
        {
            await r.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    /// <summary>
    /// The first leader's appends, which another leader's log replaced, fail even when it leads again and proposes at
    /// the indices they held before its log grows past them (the driver once kept one proposal per index and dropped
    /// the older one's answer: its caller waited forever).
    /// </summary>
    [Fact]
    public async Task Appends_replaced_while_their_leader_was_cut_off_fail_when_it_leads_again_and_reuses_their_indices()
    {
        var a = _replicas[0];
        var b = _replicas[1];
        await LeadWholeGroupAsync(a);

        // A, cut off from the others, takes three appends; nobody else ever sees them.
        var lost = new List<Task<object?>>();
        _turns.Run(() =>
        {
            for (var i = 0; i < 3; i++)
            {
                lost.Add(Propose(a, $"lost-{i}"));
            }
        });
        var firstLost = a.Driver.Node.LastIndex - 2;

        // B leads a later term with C; its log ends right before A's appends plus its own empty entry at the first of them.
        await ElectAsync(b, reachable: [1, 2]);
        Assert.Equal(firstLost, b.Driver.Node.LastIndex);

        // A hears from B (its three entries are truncated), then B hands leadership back to A, whose empty entry lands
        // on the second lost index: the next append takes the third.
        await SettleUntilAsync(() => a.Driver.Node.Term == b.Driver.Node.Term && a.Driver.Node.LastIndex == firstLost &&
            a.Driver.Node.CommitIndex == firstLost, reachable: [0, 1, 2]);
        // The transfer is started again whenever B leads with none under way: ticks count settle rounds, not time, and
        // on a loaded machine a transfer can time out before A's store write acknowledged its catch-up.
        await SettleUntilAsync(() => a.Driver.Node.Role == RaftRole.Leader && a.Driver.Node.LastIndex == firstLost + 1, reachable: [0, 1, 2],
            eachRound: () => b.Driver.HandLeadershipTo(a.Slot));
        Task<object?> kept = null!;
        _turns.Run(() => kept = Propose(a, "kept"));
        Assert.Equal(firstLost + 2, a.Driver.Node.LastIndex); // the index of the third lost append
        await SettleUntilAsync(() => kept.IsCompleted && lost.TrueForAll(t => t.IsCompleted), reachable: [0, 1, 2]);

        Assert.Equal(0UL, ((AppendAck)(await kept)!).FirstOffset);
        foreach (var t in lost)
        {
            var error = await Assert.ThrowsAsync<NotLeaderException>(() => t);
            Assert.Contains("replaced by the entry of another leader", error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(0, a.Driver.PendingProposals);
        Assert.Equal(["kept"], a.ReadAll().ConvertAll(r => Encoding.UTF8.GetString(r.Value)));
    }

    /// <summary>
    /// A linearizable read waiting at a leader for its quorum round fails at once when another replica takes the
    /// leadership, naming the new leader (the node drops such reads; the driver once left their callers waiting until
    /// they timed out, and the metadata admin, asking the old leader again and again, answered nobody for a minute).
    /// </summary>
    [Fact]
    public async Task A_read_waiting_at_a_leader_that_loses_its_leadership_fails_at_once_naming_the_new_leader()
    {
        var a = _replicas[0];
        var b = _replicas[1];
        await LeadWholeGroupAsync(a);

        // A asks for a read point; its heartbeat round never reaches anyone.
        Task read = null!;
        _turns.Run(() => read = a.Driver.ReadIndexAsync("0", r => $"{r}"));
        await ElectAsync(b, reachable: [1, 2]);
        Assert.False(read.IsCompleted);

        // A hears from B, the new leader: the read fails now, pointing at B.
        await SettleUntilAsync(() => read.IsCompleted, reachable: [0, 1, 2]);
        var error = await Assert.ThrowsAsync<NotLeaderException>(() => read);
        Assert.Equal("1", error.LeaderReplicaKey);
        Assert.Equal(RaftRole.Follower, a.Driver.Node.Role);
    }

    /// <summary>
    /// A voter may leave (to move home) only while every other voter runs and is caught up: once one voter was let go, no
    /// other may follow until the group is whole again, or a 3-voter group would keep one running voter. The leaver's
    /// announcement reaches the leader after its answer: a second voter asking in between (both moving home in one
    /// homecoming sweep) must stay too, until the first one's grant lapses with it still running.
    /// </summary>
    [Fact]
    public async Task A_voter_may_leave_only_while_every_other_voter_runs()
    {
        var a = _replicas[0];
        await LeadWholeGroupAsync(a);
        Assert.False(_replicas[1].Driver.MayLeave(2)); // only the leader answers
        Assert.True(a.Driver.MayLeave(1));
        Assert.False(a.Driver.MayLeave(2));
        Assert.True(a.Driver.MayLeave(1)); // the one let go may ask again

        // Replica 1 stayed after all (it answers heartbeats): its grant holds for a while, then replica 2 may go.
        var rounds = 0;
        await SettleUntilAsync(() => ++rounds > a.Driver.Node.ElectionTicks, reachable: [0, 1, 2]);
        Assert.False(a.Driver.MayLeave(2));
        await SettleUntilAsync(() => a.Driver.MayLeave(2), reachable: [0, 1, 2]);

        // Replica 2's incarnation tells the leader it leaves: replica 1 must now stay, however long, and replica 2 itself
        // is gone anyway.
        _turns.Run(() => a.Driver.Deliver(new RaftEnvelope(2, MessageCodec.Encode([]), Wake: true, LeavingIncarnation: _replicas[2].Incarnation)));
        Assert.False(a.Driver.MayLeave(1));
        Assert.True(a.Driver.MayLeave(2));
        rounds = 0;
        await SettleUntilAsync(() => ++rounds > 4 * a.Driver.Node.ElectionTicks, reachable: [0, 1]);
        Assert.False(a.Driver.MayLeave(1));
    }

    /// <summary>
    /// A voter let go stays silent while it leaves: a leader elected after its announcement (the leader it told handed its
    /// leadership off) heard from it otherwise until its activation ended, counted it as running, and could let a second
    /// voter go. If its activation stays after all, it answers again once the silence ends.
    /// </summary>
    [Fact]
    public async Task A_voter_that_announced_it_leaves_is_silent_to_the_next_leader_too()
    {
        var a = _replicas[0];
        await LeadWholeGroupAsync(a);
        Assert.True(a.Driver.MayLeave(1));
        _turns.Run(() => _replicas[1].Driver.AnnounceLeaving());
        Assert.True(_replicas[1].Driver.Leaving);

        var c = _replicas[2];
        await ElectAsync(c, reachable: [0, 1, 2]); // replica 1 still runs, every message reaches it
        Assert.False(c.Driver.MayLeave(0));
        Assert.True(_replicas[1].Driver.Leaving);

        await SettleUntilAsync(() => c.Driver.MayLeave(0), reachable: [0, 1, 2]);
        Assert.False(_replicas[1].Driver.Leaving);
    }

    /// <summary>
    /// A quiesced leader's view of which voters run is as old as its quiescence (a wake counts each one live for half an
    /// election timeout): asked whether a voter may leave, it wakes, answers no and stays awake, and the next ask is
    /// answered from heartbeats (a voter whose silo died while the group was quiet counted as running).
    /// </summary>
    [Fact]
    public async Task A_quiesced_leader_lets_no_voter_leave_until_heartbeats_show_the_others_run()
    {
        var a = _replicas[0];
        await LeadWholeGroupAsync(a);
        await SettleUntilAsync(() => _replicas.TrueForAll(r => r.Driver.Quiesced), reachable: [0, 1, 2]);

        // Replica 2's silo dies while the group is quiet: nothing tells the leader.
        Assert.False(a.Driver.MayLeave(1, untilNextAsk: 5));
        Assert.False(a.Driver.Quiesced);
        var rounds = 0;
        await SettleUntilAsync(() => ++rounds > 2 * a.Driver.Node.ElectionTicks, reachable: [0, 1]);
        Assert.False(a.Driver.Quiesced); // awake until the next ask, however idle
        Assert.False(a.Driver.MayLeave(1));
        Assert.True(a.Driver.MayLeave(2)); // the silent one itself may go

        // Replica 2 runs after all: its heartbeats' answers let replica 1 leave.
        await SettleUntilAsync(() => a.Driver.MayLeave(1), reachable: [0, 1, 2]);
    }

    private static Task<object?> Propose(SimulatedActivation leader, string value) =>
        leader.Driver.ProposeAsync(RecordBatchCodec.Encode([new ProducerRecord(null, Encoding.UTF8.GetBytes(value))], 1024), "k", s => $"{s}");

    /// <summary>Elects <paramref name="leader"/> with every replica reachable and waits until all of them committed its log.</summary>
    private async Task LeadWholeGroupAsync(SimulatedActivation leader)
    {
        await ElectAsync(leader, reachable: [0, 1, 2]);

        // Every replica has committed everything, and the leader has heard each one acknowledge it (a follower can learn
        // the commit index from an append whose answer the leader has not read yet).
        await SettleUntilAsync(() => _replicas.TrueForAll(r => r.Driver.Node.CommitIndex == leader.Driver.Node.LastIndex &&
            (r == leader || leader.Driver.Node.IsCaughtUpVoter(r.Driver.Node.Id))), reachable: [0, 1, 2]);
    }

    private async Task ElectAsync(SimulatedActivation candidate, int[] reachable)
    {
        // A TimeoutNow (as a transfer would send) makes the candidate campaign at once, whatever its election timer says.
        var node = candidate.Driver.Node;
        var from = reachable.First(r => r != candidate.Slot);
        var timeoutNow = new Message
        {
            Type = MessageType.TimeoutNow, To = node.Id, ToIncarnation = node.Incarnation, From = ReplicaDriver.RaftId(from),
            FromIncarnation = _replicas[from].Incarnation, Term = node.Term,
        };
        _turns.Run(() => candidate.Driver.Deliver(new RaftEnvelope(from, MessageCodec.Encode([timeoutNow]))));
        await SettleUntilAsync(() => candidate.Driver.Node.Role == RaftRole.Leader &&
            candidate.Driver.Node.CommitIndex == candidate.Driver.Node.LastIndex, reachable, tick: false); // no timer elects anyone else meanwhile
    }

    /// <summary>
    /// Delivers messages between reachable replicas (dropping the rest), ticks them (unless not <paramref name="tick"/>),
    /// runs <paramref name="eachRound"/> in a turn and lets store writes finish, until the condition holds.
    /// </summary>
    private async Task SettleUntilAsync(Func<bool> done, int[] reachable, bool tick = true, Action? eachRound = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); // store writes take longer on a loaded machine
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, "the group did not reach the expected state: " + string.Join("; ", _replicas.Select(r =>
                $"{r.Slot} {r.Driver.Node.Role} t{r.Driver.Node.Term} c{r.Driver.Node.CommitIndex} l{r.Driver.Node.LastIndex} proposals pending {r.Driver.PendingProposals}")));
            while (_network.Count > 0)
            {
                var (to, envelope) = _network[0];
                _network.RemoveAt(0);
                if (Array.IndexOf(reachable, to) >= 0 && Array.IndexOf(reachable, envelope.FromReplica) >= 0)
                {
                    _turns.Run(() => _replicas[to].Driver.Deliver(envelope));
                }
            }

            foreach (var slot in tick ? reachable : [])
            {
                _turns.Run(() => _replicas[slot].Driver.Tick());
            }

            if (eachRound is not null)
            {
                _turns.Run(eachRound);
            }

            await Task.Delay(1);
            _turns.RunPending();
        }
    }
}
