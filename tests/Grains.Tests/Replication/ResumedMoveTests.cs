using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Tests.Hosting;
using Pyralog.Grains.Tests.Partitions;
using Xunit.Abstractions;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// A move resumed past its point of no return: the mover removed the drained replica from its group (step 4), then its
/// "moved" failed to commit (held here by a filter, as a timeout or a metadata leader change would), and the target
/// silo died before the next round resumed the move, so the new replica came up elsewhere. Abandoning the move then
/// removed the new replica too and left the group two voters of three for good. The resumed move must finish instead.
/// Own cluster (four silos, one killed).
/// </summary>
public sealed class ResumedMoveTests : IAsyncLifetime
{
    private const string LogName = "resumed";
    private readonly ResumingFixture _fixture = new();
    private readonly ITestOutputHelper _output;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public ResumedMoveTests(ITestOutputHelper output) => _output = output;

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    private void Mark(string what) => _output.WriteLine($"{_clock.Elapsed.TotalSeconds,6:0.0} s  {what}");

    [Fact]
    public async Task A_move_resumed_after_its_replica_left_the_group_is_finished_not_abandoned()
    {
        var cluster = _fixture.Cluster;
        var grains = cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync(LogName, 1, 3);
        var (acked, unknown) = PartitionCalls.EmptyHistory(1);
        await PartitionCalls.AppendToEachAsync(grains, log, "before", acked, unknown);
        await PartitionCalls.WaitForAsync(admin, LogName, d => PartitionCalls.AllLeadOrFollow(d.Partitions[0]), "the partition leading and following");

        // The fourth silo is the only place the drained silo's replica can go.
        MovedCommits.Hold = true;
        var target = await cluster.StartAdditionalSiloAsync();
        var drained = cluster.SecondarySilos[0].SiloAddress;
        Assert.True((await admin.DrainSiloAsync(drained.Endpoint.ToString(), drain: true)).Draining);
        await PartitionCalls.WaitAsync(() => MovedCommits.Refused > 0, "the move's \"moved\" refused once", TimeSpan.FromSeconds(60));
        var move = (await MetadataLogAsync(grains)).MoveIn(0) ?? throw new InvalidOperationException("no move recorded");
        Assert.Equal(target.SiloAddress.Endpoint.ToString(), (await MetadataLogAsync(grains)).Homes!.Home(0, move.To));
        var before = await LeaderStatusAsync(grains, log, s => Slot(s.VoterIncarnations, move.From) == 0, "the moved replica out of the group");
        Mark($"replica {move.From} removed from the group, {move.To} votes; its \"moved\" refused {MovedCommits.Refused} times");

        // The target dies; once it is declared dead (and every call the mover had in flight to it timed out) the next
        // round places the new replica elsewhere, and "moved" may commit again.
        await cluster.KillSiloAsync(target);
        var management = grains.GetGrain<IManagementGrain>(0);
        await PartitionCalls.WaitAsync(async () => !(await management.GetHosts(onlyActive: true)).ContainsKey(target.SiloAddress), "the target declared dead", TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(6));
        MovedCommits.Hold = false;
        Mark("target dead; \"moved\" no longer held");

        await PartitionCalls.WaitAsync(async () => (await MetadataLogAsync(grains)).MoveIn(0) is null, "the move ended", TimeSpan.FromSeconds(60));
        var after = await MetadataLogAsync(grains);
        Assert.Null(after.Homes!.Home(0, move.From));
        Assert.Equal(target.SiloAddress.Endpoint.ToString(), after.Homes.Home(0, move.To));

        // Three voters, the new replica's slot among them: the group survives the loss of another silo.
        var settled = await LeaderStatusAsync(grains, log, s => s.ConfigCommitted && s.VoterIncarnations.Count(i => i != 0) == 3, "three voters");
        Assert.Equal(0, Slot(settled.VoterIncarnations, move.From));
        Assert.NotEqual(0, Slot(settled.VoterIncarnations, move.To));
        Assert.Equal(3, before.VoterIncarnations.Count(i => i != 0));

        log = (await admin.GetLogAsync(LogName))!;
        await PartitionCalls.AppendToEachAsync(grains, log, "after", acked, unknown);
        Mark("appended after the move");

        // Every acknowledged record on every replica of the group, the new one included: a move that finished with a short copy fails here.
        await PartitionCalls.CheckEveryReplicaAsync(grains, log, acked, unknown);
    }

    private static long Slot(long[] incarnations, int slot) => slot < incarnations.Length ? incarnations[slot] : 0;

    private static Task<MetadataLog> MetadataLogAsync(IClusterClient grains) => PartitionCalls.MetadataLogAsync(grains, LogName);

    /// <summary>The partition leader's status once it satisfies <paramref name="condition"/> (60 s at most).</summary>
    private static async Task<ReplicaStatus> LeaderStatusAsync(IClusterClient grains, LogInfo log, Func<ReplicaStatus, bool> condition, string what)
    {
        ReplicaStatus? last = null;
        await PartitionCalls.WaitAsync(async () =>
        {
            var current = (await MetadataLogAsync(grains)).Info;
            last = await (await PartitionCalls.LeaderAsync(grains, current, 0)).GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(5));
            return condition(last);
        }, what, TimeSpan.FromSeconds(60), () => last is null ? "no leader" : $"voters [{string.Join(' ', last.VoterIncarnations)}] learners [{string.Join(' ', last.LearnerIncarnations)}] committed {last.ConfigCommitted}");
        return last!;
    }

    private sealed class ResumingFixture() : PyralogClusterFixture(3)
    {
        protected override void Configure(TestClusterBuilder builder) => builder.AddSiloBuilderConfigurator<Resuming>();
    }

    private sealed class Resuming : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.Configure<PyralogOptions>(o => o.Replication.ReplicaMoveInterval = TimeSpan.FromMilliseconds(500));
            siloBuilder.AddIncomingGrainCallFilter<MovedCommits>();
        }
    }
}
