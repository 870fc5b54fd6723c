using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Tests.Hosting;
using Pyralog.Grains.Tests.Partitions;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// Two runs of one move (a mover on the previous metadata leader, a timed-out abandon) racing to remove one slot each:
/// one run's removal is held at the partition leader (as a slow call would be) while the other run's goes through.
/// Both removals committed before, and the group stayed a voter short for good; now the leader refuses the second:
/// step 4 then stops without removing (the next round resumes the still recorded move), an abandon finishes the move
/// instead. A run that lost its move to another run adds no new replica, and a move whose group has no leader gives up
/// after its timeout, without holding its place among the moves that run at once for ever. Own cluster per test (four
/// silos).
/// </summary>
public sealed class RacingMoveRemovalTests : IAsyncLifetime
{
    private const string LogName = "racing-removal";
    private const string StuckName = "leaderless-move";
    private const string FreeName = "waiting-move";
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(60);
    private readonly RacingFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync()
    {
        StarvedNewcomers.Starving = false; // a failed test must not starve the next one's newcomers
        SilencedGroups.Log = 0;
        HeldPreparations.Release();
        HeldRemovals.Release();
        return _fixture.DisposeAsync();
    }

    [Fact]
    public async Task A_move_removes_nothing_once_another_run_of_it_removed_the_new_replica()
    {
        var grains = _fixture.Cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        await PartitionCalls.WaitForMetadataVersionAsync(grains); // moves carry their runs, the leader checks what a removal keeps
        var log = await admin.CreateLogAsync(LogName, 1, 3);
        var (acked, unknown) = PartitionCalls.EmptyHistory(1);
        await PartitionCalls.AppendToEachAsync(grains, log, "before", acked, unknown);
        var placed = (await PartitionCalls.WaitForAsync(admin, LogName, d => PartitionCalls.AllLeadOrFollow(d.Partitions[0]), "the partition leading and following")).Partitions[0];

        // A follower's silo drains; its replica moves to the fourth silo, and step 4's removal is held at the leader.
        HeldRemovals.Arm();
        var drained = placed.Replicas.First(r => r.Replica != placed.LeaderReplica).Silo;
        Assert.True((await admin.DrainSiloAsync(SiloAddress.FromParsableString(drained).Endpoint.ToString(), drain: true)).Draining);
        var held = await HeldRemovals.First.WaitAsync(Within);
        var move = (await MetadataLogAsync(grains)).MoveIn(0) ?? throw new InvalidOperationException("no move recorded");
        Assert.Equal((move.From, move.To, move.To), held);

        // A late "abandon-move" of another run (a mover on the previous metadata leader, its call timed out) is refused:
        // the running one owns the move. Applied, it would drop the home of the replica that run added.
        Assert.NotEqual(0, move.Run);
        var late = await grains.GetGrain<IMetadataAdminGrain>(0).CommitMetadataAsync(new MetadataCommand
        {
            Kind = "abandon-move", LogId = log.Id, Partition = 0, From = move.From, To = move.To, Run = move.Run + 1,
        }.Encode());
        Assert.Equal($"the move of slot {move.From} to slot {move.To} of partition 0 of log {LogName} is run by another mover now", late.Error);
        Assert.Equal(move, (await MetadataLogAsync(grains)).MoveIn(0));

        // Meanwhile another run of the move abandons it: the new replica is removed, keeping the moved one.
        var leader = await PartitionCalls.LeaderAsync(grains, (await MetadataLogAsync(grains)).Info, 0);
        Assert.Null(await leader.RemoveReplicaAsync(move.To, -1, move.From));
        await LeaderStatusAsync(grains, s => s.ConfigCommitted && Slot(s.VoterIncarnations, move.To) == 0, $"replica {move.To}'s removal committed");

        // Step 4's removal arrives second: refused, the moved replica stays a voter.
        HeldRemovals.Release();
        Assert.Equal(
            $"replica {move.To} is not a member of the group, so replica {move.From} is not removed: a move removes one of its two slots only while the other is in",
            await HeldRemovals.FirstAnswer.WaitAsync(Within));
        var kept = await leader.GetStatusAsync();
        Assert.True(kept.ConfigCommitted);
        Assert.Equal(log.ReplicaSlots(0), Members(kept.VoterIncarnations));

        // The move is still recorded: the next round resumes it, adds the new replica again and removes the moved one.
        await PartitionCalls.WaitAsync(async () => (await MetadataLogAsync(grains)).MoveIn(0) is null, "the move ended", Within);
        var after = await MetadataLogAsync(grains);
        Assert.Null(after.Homes!.Home(0, move.From));
        Assert.Equal(log.ReplicaSlots(0).Where(s => s != move.From).Append(move.To).Order(), Members(
            (await LeaderStatusAsync(grains, s => s.ConfigCommitted && s.VoterIncarnations.Count(i => i != 0) == 3 && Slot(s.VoterIncarnations, move.From) == 0, "three voters without the moved replica")).VoterIncarnations));

        await PartitionCalls.AppendToEachAsync(grains, after.Info, "after", acked, unknown);
        await PartitionCalls.CheckEveryReplicaAsync(grains, after.Info, acked, unknown);
    }

    [Fact]
    public async Task An_abandon_removes_nothing_once_another_run_of_its_move_removed_the_moved_replica()
    {
        var grains = _fixture.Cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        await PartitionCalls.WaitForMetadataVersionAsync(grains); // the leader's keep check is used from version 2
        var log = await admin.CreateLogAsync(LogName, 1, 3);
        var (acked, unknown) = PartitionCalls.EmptyHistory(1);
        await PartitionCalls.AppendToEachAsync(grains, log, "before", acked, unknown);
        var placed = (await PartitionCalls.WaitForAsync(admin, LogName, d => PartitionCalls.AllLeadOrFollow(d.Partitions[0]), "the partition leading and following")).Partitions[0];

        // A follower's silo drains; its replica's newcomer gets nothing, so the move is abandoned at its timeout, and the
        // abandon's removal of the newcomer (a learner) is held at the leader.
        StarvedNewcomers.Starving = true;
        HeldRemovals.Arm();
        var drained = placed.Replicas.First(r => r.Replica != placed.LeaderReplica).Silo;
        Assert.True((await admin.DrainSiloAsync(SiloAddress.FromParsableString(drained).Endpoint.ToString(), drain: true)).Draining);
        var held = await HeldRemovals.First.WaitAsync(Within);
        var move = (await MetadataLogAsync(grains)).MoveIn(0) ?? throw new InvalidOperationException("no move recorded");
        Assert.True(move.To >= StarvedNewcomers.FirstStarvedSlot);
        Assert.Equal((move.To, -1, move.From), held);

        // Meanwhile another run of the move reaches its step 4: it may not remove the moved replica while the newcomer only
        // learns (it holds nothing), so the newcomer is fed again; once it votes, the moved replica is removed keeping it.
        var leader = await PartitionCalls.LeaderAsync(grains, (await MetadataLogAsync(grains)).Info, 0);
        var learner = Slot((await leader.GetStatusAsync()).LearnerIncarnations, move.To);
        Assert.NotEqual(0, learner);
        Assert.Equal(
            $"replica {move.To} is a learner (incarnation {learner}), not a voter, so replica {move.From} is not removed: a move removes one of its two slots only while the other votes",
            await leader.RemoveReplicaAsync(move.From, move.To, move.To));
        StarvedNewcomers.Starving = false;
        await LeaderStatusAsync(grains, s => s.ConfigCommitted && Slot(s.VoterIncarnations, move.To) == learner, $"replica {move.To} a voter");
        Assert.Null(await leader.RemoveReplicaAsync(move.From, move.To, move.To));
        await LeaderStatusAsync(grains, s => s.ConfigCommitted && Slot(s.VoterIncarnations, move.From) == 0, $"replica {move.From}'s removal committed");

        // The abandon's removal arrives second: refused, the newcomer stays a voter, and the abandon finishes the move.
        HeldRemovals.Release();
        Assert.Equal(
            $"replica {move.From} is not a member of the group, so replica {move.To} is not removed: a move removes one of its two slots only while the other is in",
            await HeldRemovals.FirstAnswer.WaitAsync(Within));
        var kept = await leader.GetStatusAsync();
        Assert.True(kept.ConfigCommitted);
        Assert.Equal(log.ReplicaSlots(0).Where(s => s != move.From).Append(move.To).Order(), Members(kept.VoterIncarnations));
        Assert.Empty(Members(kept.LearnerIncarnations));
        await PartitionCalls.WaitAsync(async () => (await MetadataLogAsync(grains)).MoveIn(0) is null, "the move ended", Within);
        var after = await MetadataLogAsync(grains);
        Assert.Null(after.Homes!.Home(0, move.From));
        Assert.NotNull(after.Homes.Home(0, move.To));
        await PartitionCalls.AppendToEachAsync(grains, after.Info, "after", acked, unknown);
        await PartitionCalls.CheckEveryReplicaAsync(grains, after.Info, acked, unknown);
    }

    [Fact]
    public async Task A_run_that_no_longer_owns_its_move_adds_no_new_replica()
    {
        var grains = _fixture.Cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        await PartitionCalls.WaitForMetadataVersionAsync(grains);
        MoverWarnings.Clear();
        var log = await admin.CreateLogAsync(LogName, 1, 3);
        var (acked, unknown) = PartitionCalls.EmptyHistory(1);
        await PartitionCalls.AppendToEachAsync(grains, log, "before", acked, unknown);
        var placed = (await PartitionCalls.WaitForAsync(admin, LogName, d => PartitionCalls.AllLeadOrFollow(d.Partitions[0]), "the partition leading and following")).Partitions[0];

        // A follower's silo drains; the run's step 2 is held while another run (a mover on the next metadata leader)
        // takes the move over.
        HeldPreparations.Arm();
        var drained = placed.Replicas.First(r => r.Replica != placed.LeaderReplica).Silo;
        Assert.True((await admin.DrainSiloAsync(SiloAddress.FromParsableString(drained).Endpoint.ToString(), drain: true)).Draining);
        var held = await HeldPreparations.First.WaitAsync(Within);
        var recorded = await MetadataLogAsync(grains);
        var move = recorded.MoveIn(0) ?? throw new InvalidOperationException("no move recorded");
        Assert.Equal(ReplicaGrainKey.Of(log.Id, 0, move.To), held);
        var taken = await grains.GetGrain<IMetadataAdminGrain>(0).CommitMetadataAsync(new MetadataCommand
        {
            Kind = "move", LogId = log.Id, Partition = 0, From = move.From, To = move.To, Silo = recorded.Homes!.Home(0, move.To), Run = move.Run + 1,
        }.Encode());
        Assert.Null(taken.Error);
        Assert.Equal(move.Run + 1, (await MetadataLogAsync(grains)).MoveIn(0)!.Run);

        // The run goes on to step 3 and leaves the move to its owner instead of adding the new replica (which that owner
        // may have abandoned meanwhile, its home dropped).
        HeldPreparations.Release();
        var expected = $"Not adding replica {ReplicaGrainKey.Of(log.Id, 0, move.To)}: the move of replica {ReplicaGrainKey.Of(log.Id, 0, move.From)} ended or passed to another run meanwhile";
        await PartitionCalls.WaitAsync(() => MoverWarnings.Lines.Contains(expected), "the run that lost its move left it", Within);

        // The owner never runs (it stands for a mover that stopped): a later round resumes the move and finishes it.
        await PartitionCalls.WaitAsync(async () => (await MetadataLogAsync(grains)).MoveIn(0) is null, "the move ended", Within);
        var after = await MetadataLogAsync(grains);
        Assert.Null(after.Homes!.Home(0, move.From));
        Assert.Equal(log.ReplicaSlots(0).Where(s => s != move.From).Append(move.To).Order(), Members(
            (await LeaderStatusAsync(grains, s => s.ConfigCommitted && s.VoterIncarnations.Count(i => i != 0) == 3 && Slot(s.VoterIncarnations, move.From) == 0, "three voters without the moved replica")).VoterIncarnations));
        await PartitionCalls.AppendToEachAsync(grains, after.Info, "after", acked, unknown);
        await PartitionCalls.CheckEveryReplicaAsync(grains, after.Info, acked, unknown);
    }

    [Fact]
    public async Task A_move_whose_group_has_no_leader_gives_up_and_leaves_its_place_to_other_moves_until_it_resumes()
    {
        var grains = _fixture.Cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        await PartitionCalls.WaitForMetadataVersionAsync(grains);
        MoverWarnings.Clear();

        // Two logs: one move at a time (ReplicaMoves = 1), and the planner takes the lower log id first, the one that loses
        // its quorum. A silo holding a replica of each drains.
        var stuck = await admin.CreateLogAsync(StuckName, 1, 3);
        var free = await admin.CreateLogAsync(FreeName, 1, 3);
        Assert.True(stuck.Id < free.Id);
        var stuckPlaced = (await PartitionCalls.WaitForAsync(admin, StuckName, d => PartitionCalls.AllLeadOrFollow(d.Partitions[0]), "the first log leading and following")).Partitions[0];
        var freePlaced = (await PartitionCalls.WaitForAsync(admin, FreeName, d => PartitionCalls.AllLeadOrFollow(d.Partitions[0]), "the second log leading and following")).Partitions[0];
        var drained = SiloAddress.FromParsableString(stuckPlaced.Replicas.Select(r => r.Silo).First(s => freePlaced.Replicas.Any(r => r.Silo == s))).Endpoint.ToString();
        SilencedGroups.Log = stuck.Id;
        Assert.True((await admin.DrainSiloAsync(drained, drain: true)).Draining);

        // The first log's move copies nothing (no leader), so it is abandoned at its timeout; the abandon waits for a
        // leader for the timeout too, then gives up with a warning naming the log. It waited for ever before, holding
        // the one move the mover runs at a time: the second log's replica never moved.
        await PartitionCalls.WaitAsync(() => MoverWarnings.Lines.Any(l => l.Contains($"of partition 0 of log {StuckName} (id {stuck.Id}) gave up after waiting 00:00:03 for a leader of the group", StringComparison.Ordinal)),
            "the leaderless move's run gave up", Within);
        await PartitionCalls.WaitForAsync(admin, FreeName, d => d.Partitions[0].Replicas.Length == 3 && d.Partitions[0].Replicas.All(r => SiloAddress.FromParsableString(r.Silo).Endpoint.ToString() != drained) &&
            PartitionCalls.AllLeadOrFollow(d.Partitions[0]), "the second log's replica moved off the drained silo");
        await PartitionCalls.WaitAsync(async () => (await PartitionCalls.MetadataLogAsync(grains, FreeName)).MoveIn(0) is null, "the second log's move ended", Within);
        Assert.NotNull((await PartitionCalls.MetadataLogAsync(grains, StuckName)).MoveIn(0));

        // Its move stayed recorded: once its group has a leader again, a later round resumes it, and it ends.
        SilencedGroups.Log = 0;
        await PartitionCalls.WaitAsync(async () => (await PartitionCalls.MetadataLogAsync(grains, StuckName)).MoveIn(0) is null, "the first log's move ended", Within);
        await PartitionCalls.WaitForAsync(admin, StuckName, d => d.Partitions[0].Replicas.Length == 3 && d.Partitions[0].Replicas.All(r => SiloAddress.FromParsableString(r.Silo).Endpoint.ToString() != drained) &&
            PartitionCalls.AllLeadOrFollow(d.Partitions[0]), "the first log's replica moved off the drained silo");
    }

    private static long Slot(long[] incarnations, int slot) => slot < incarnations.Length ? incarnations[slot] : 0;

    private static int[] Members(long[] incarnations) => [.. Enumerable.Range(0, incarnations.Length).Where(s => incarnations[s] != 0)];

    private static Task<MetadataLog> MetadataLogAsync(IClusterClient grains) => PartitionCalls.MetadataLogAsync(grains, LogName);

    /// <summary>The partition leader's status once it satisfies <paramref name="condition"/> (60 s at most).</summary>
    private static async Task<ReplicaStatus> LeaderStatusAsync(IClusterClient grains, Func<ReplicaStatus, bool> condition, string what)
    {
        ReplicaStatus? last = null;
        await PartitionCalls.WaitAsync(async () =>
        {
            var current = (await MetadataLogAsync(grains)).Info;
            last = await (await PartitionCalls.LeaderAsync(grains, current, 0)).GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(5));
            return condition(last);
        }, what, Within, () => last is null ? "no leader" : $"voters [{string.Join(' ', last.VoterIncarnations)}] learners [{string.Join(' ', last.LearnerIncarnations)}] committed {last.ConfigCommitted}");
        return last!;
    }

    private sealed class RacingFixture() : PyralogClusterFixture(4)
    {
        protected override void Configure(TestClusterBuilder builder) => builder.AddSiloBuilderConfigurator<Racing>();
    }

    private sealed class Racing : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.Configure<PyralogOptions>(o =>
            {
                o.Replication.ReplicaMoveInterval = TimeSpan.FromMilliseconds(500);
                o.Replication.ReplicaMoveTimeout = TimeSpan.FromSeconds(3); // a starved newcomer's move is abandoned soon
                o.Replication.ReplicaMoves = 1; // a move that never ends would stop every other
            });
            siloBuilder.AddIncomingGrainCallFilter<HeldRemovals>();
            siloBuilder.AddIncomingGrainCallFilter<StarvedNewcomers>();
            siloBuilder.AddIncomingGrainCallFilter<SilencedGroups>();
            siloBuilder.AddIncomingGrainCallFilter<HeldPreparations>();
            siloBuilder.Services.AddSingleton<ILoggerProvider, MoverWarnings>();
        }
    }
}
