using Xunit.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;
using Pyralog.Grains.Tests.Hosting;
using Pyralog.Grains.Tests.Partitions;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// Replica moves on a real cluster: a fourth silo joins three that hold every replica, and replicas move onto it, one
/// learner-first move per partition, until every silo holds six of the 24; then one of the original silos is drained
/// and gives all of its replicas to the others; undrained, it takes six again; then another silo stops gracefully and
/// its replicas are moved to the three others before it exits. Appends run the whole time; every acknowledged record
/// is on every replica at its offset afterwards, and a moved-away replica has dropped its data and refuses to come
/// back. Own cluster (it adds a silo; moves every half second).
/// </summary>
public sealed class ReplicaMoveTests : IAsyncLifetime
{
    private const string LogName = "moving";
    private const int Partitions = 8;
    private readonly MovingFixture _fixture = new();
    private readonly ITestOutputHelper _output;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public ReplicaMoveTests(ITestOutputHelper output) => _output = output;

    private void Mark(string what) => _output.WriteLine($"{_clock.Elapsed.TotalSeconds,6:0.0} s  {what}");

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task Replicas_move_onto_a_joining_silo_off_a_drained_one_and_off_a_stopping_one_with_nothing_lost()
    {
        var cluster = _fixture.Cluster;
        var grains = cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync(LogName, Partitions, 3);
        var (acked, unknown) = PartitionCalls.EmptyHistory(Partitions);
        await PartitionCalls.AppendToEachAsync(grains, log, "before", acked, unknown);
        var created = await PartitionCalls.WaitForAsync(admin, LogName, d => d.Partitions.All(PartitionCalls.AllLeadOrFollow), "every group leading and following");

        // Every leadership on one silo (balancing is off here): two of its replicas move to the joining silo, both leaders.
        var leading = cluster.Primary!.SiloAddress.ToParsableString();
        foreach (var partition in created.Partitions)
        {
            var slot = partition.Replicas.Single(r => r.Silo == leading).Replica;
            if (partition.LeaderReplica != slot)
            {
                Assert.True(await PartitionCalls.HandOverAsync(grains.GetGrain<IPartitionReplicaGrain>(partition.Replicas.Single(r => r.Replica == partition.LeaderReplica).Key), slot), $"partition {partition.Partition}'s leader refused to hand over to replica {slot} for 10 s");
            }
        }

        var before = await PartitionCalls.WaitForAsync(admin, LogName, d => d.Partitions.All(p => p.LeaderSilo == leading && PartitionCalls.AllLeadOrFollow(p)), "every partition led on one silo");

        Mark("created");
        var joined = await cluster.StartAdditionalSiloAsync();
        var joinedAt = joined.SiloAddress.ToParsableString();
        var balanced = await WhileAppendingAsync(grains, log, "join", acked, unknown, () => PartitionCalls.WaitForAsync(admin, LogName,
            d => Settled(d) && PerSilo(d).Count == 4 && PerSilo(d).Values.All(c => c == 6),
            "six replicas on each of the four silos, every partition on three silos"));
        Mark("balanced");
        Assert.Equal(6, PerSilo(balanced)[joinedAt]);

        // The replicas that left a silo are gone from it for good.
        var movedAway = before.Partitions.SelectMany(p => p.Replicas).Select(r => r.Key)
            .Except(balanced.Partitions.SelectMany(p => p.Replicas).Select(r => r.Key)).ToList();
        Assert.Equal(6, movedAway.Count);

        // A leader whose replica moved handed its leadership to the replica that took its place, on the joining silo.
        var ledByMoved = before.Partitions.Where(p => movedAway.Contains(p.Replicas.Single(r => r.Replica == p.LeaderReplica).Key)).Select(p => p.Partition).ToList();
        Assert.Equal(2, ledByMoved.Count);
        Assert.All(ledByMoved, p => Assert.Equal(joinedAt, balanced.Partitions.Single(d => d.Partition == p).LeaderSilo));
        foreach (var key in movedAway)
        {
            Assert.Contains("is not part of its partition any more", await RefusalAsync(grains.GetGrain<IPartitionReplicaGrain>(key)));
        }

        Mark("checked");
        log = (await admin.GetLogAsync(LogName))!;
        await PartitionCalls.CheckEveryReplicaAsync(grains, log, acked, unknown);

        // Drain one of the original silos: its six replicas go to the three others.
        var drained = cluster.SecondarySilos[0].SiloAddress;
        var drainedAt = drained.ToParsableString();
        var result = await admin.DrainSiloAsync(drained.Endpoint.ToString(), drain: true);
        Assert.True(result.Draining);
        var emptied = await WhileAppendingAsync(grains, log, "drain", acked, unknown, () => PartitionCalls.WaitForAsync(admin, LogName,
            d => Settled(d) && !PerSilo(d).ContainsKey(drainedAt) && PerSilo(d).Values.All(c => c == 8),
            "no replica on the drained silo, eight on each of the others"));
        Mark("drained");
        Assert.Equal(3, PerSilo(emptied).Count);

        // Undrained, it takes replicas again; then another silo stops gracefully, and its replicas move away first.
        Assert.False((await admin.DrainSiloAsync(drained.Endpoint.ToString(), drain: false)).Draining);
        await WhileAppendingAsync(grains, log, "undrain", acked, unknown, () => PartitionCalls.WaitForAsync(admin, LogName,
            d => Settled(d) && PerSilo(d).Count == 4 && PerSilo(d).Values.All(c => c == 6), "six replicas on each of the four silos again"));
        Mark("undrained");
        var stopping = cluster.SecondarySilos[1];
        var stoppedAt = stopping.SiloAddress.ToParsableString();
        await WhileAppendingAsync(grains, log, "stop", acked, unknown, async () =>
        {
            await cluster.StopSiloAsync(stopping);
            return await PartitionCalls.WaitForAsync(admin, LogName, d => Settled(d), "every partition on three live silos");
        });
        Mark("stopped");
        var afterStop = await PartitionCalls.WaitForAsync(admin, LogName, Settled, "every partition on three live silos");
        Assert.DoesNotContain(stoppedAt, PerSilo(afterStop).Keys);
        Assert.All(PerSilo(afterStop).Values, c => Assert.Equal(8, c));

        log = (await admin.GetLogAsync(LogName))!;
        await PartitionCalls.AppendToEachAsync(grains, log, "after", acked, unknown);
        await PartitionCalls.CheckEveryReplicaAsync(grains, log, acked, unknown);
    }

    [Fact]
    public async Task The_replicas_of_a_silo_gone_for_good_are_homed_where_they_run_and_the_cluster_balances_again()
    {
        await using var fixture = new MovingFixture(4, rehomeAfter: TimeSpan.FromSeconds(2));
        await fixture.InitializeAsync();
        var cluster = fixture.Cluster;
        var grains = cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync(LogName, Partitions, 3);
        var (acked, unknown) = PartitionCalls.EmptyHistory(Partitions);
        await PartitionCalls.AppendToEachAsync(grains, log, "before", acked, unknown);
        await PartitionCalls.WaitForAsync(admin, LogName, Settled, "every group leading and following");

        // The silo to kill must hold the data of exactly the replicas homed on it: a move onto the fourth silo may still
        // be under way (its old slot keeps its home until the move is recorded, then drops its data), and a replica placed
        // while its home silo was joining runs elsewhere until homecoming brings it home. So every homed slot runs, at home.
        var homesBefore = await RunningAtHomeAsync(admin, grains);
        var dead = cluster.SecondarySilos[0];
        var deadEndpoint = dead.SiloAddress.Endpoint.ToString();
        var homedThere = homesBefore.CountOn(deadEndpoint);
        Assert.True(homedThere > 0, "with 24 replicas on four silos the killed one is home to some");
        await cluster.KillSiloAsync(dead);
        Mark($"killed a silo home to {homedThere} replicas");

        var rebalanced = await WhileAppendingAsync(grains, log, "gone", acked, unknown, () => PartitionCalls.WaitForAsync(admin, LogName,
            d => Settled(d) && PerSilo(d).Count == 3 && PerSilo(d).Values.All(c => c == 8), "eight replicas on each of the three silos left"));
        Mark("running on the three silos left");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        for (var round = 0; (await HomesAsync(grains)).CountOn(deadEndpoint) > 0; round++)
        {
            Assert.True(DateTime.UtcNow < deadline, "the killed silo still holds homes 60 s later");
            await PartitionCalls.AppendToEachAsync(grains, log, $"rehoming{round}", acked, unknown);
        }

        Mark("re-homed");
        rebalanced = await PartitionCalls.WaitForAsync(admin, LogName,
            d => Settled(d) && PerSilo(d).Count == 3 && PerSilo(d).Values.All(c => c == 8), "eight replicas on each of the three silos left");
        var homes = await HomesAsync(grains);
        Assert.Empty(AwayFromHome(rebalanced, homes));

        log = (await admin.GetLogAsync(LogName))!;
        await PartitionCalls.AppendToEachAsync(grains, log, "after", acked, unknown);
        await PartitionCalls.CheckEveryReplicaAsync(grains, log, acked, unknown);

        // The silo comes back on its old data: none of it is homed there any more, and the silo drops it (two sweeps
        // agree), while replicas move onto it afresh until the four silos hold six each again.
        var back = await cluster.StartSiloAsync(dead.InstanceNumber, cluster.Options);
        var backEndpoint = back.SiloAddress.Endpoint.ToString();
        var store = ((InProcessSiloHandle)back).SiloHost.Services.GetRequiredService<SiloStore>().Store;
        var leftovers = await LeftoversAsync(store, log.Id, await HomesAsync(grains), backEndpoint);
        Assert.True(leftovers.Count >= homedThere, $"the silo came back with {leftovers.Count} replicas' data, expected its {homedThere} at least");
        Mark($"back with {leftovers.Count} leftover replicas");

        await WhileAppendingAsync(grains, log, "back", acked, unknown, () => PartitionCalls.WaitForAsync(admin, LogName,
            d => Settled(d) && PerSilo(d).Count == 4 && PerSilo(d).Values.All(c => c == 6), "six replicas on each of the four silos"));
        deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (await LeftoversAsync(store, log.Id, await HomesAsync(grains), backEndpoint) is { Count: > 0 } left)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the silo still holds leftover data 60 s after it came back: store logs {string.Join(", ", left)}");
            await Task.Delay(200);
        }

        Mark("leftovers dropped");
        log = (await admin.GetLogAsync(LogName))!;
        await PartitionCalls.AppendToEachAsync(grains, log, "last", acked, unknown);
        await PartitionCalls.CheckEveryReplicaAsync(grains, log, acked, unknown);
    }

    /// <summary>The store logs holding state of replicas of log <paramref name="logId"/> whose slot is not homed on <paramref name="endpoint"/>.</summary>
    private static async Task<List<ulong>> LeftoversAsync(Pyralog.Storage.Native.PyramidStore store, ulong logId, Pyralog.Grains.Placement.ReplicaHomes homes, string endpoint)
    {
        var found = new List<ulong>();
        foreach (var storeLog in ReplicaKv.StoreLogsWithState(store))
        {
            var (log, partition, slot) = ReplicaKv.ReplicaOf(storeLog);
            if (log == logId && await store.GetAsync(ReplicaKv.Key(storeLog, ReplicaKv.Deleted)) is null && homes.Home(partition, slot) != endpoint)
            {
                found.Add(storeLog);
            }
        }

        return found;
    }

    /// <summary>Waits (30 s at most) until the log is settled, its homed slots are the ones that run and each runs at its home; returns those homes.</summary>
    private async Task<Pyralog.Grains.Placement.ReplicaHomes> RunningAtHomeAsync(IPyralogAdminGrain admin, IClusterClient grains)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        for (var round = 0; ; round++)
        {
            var description = await PartitionCalls.WaitForAsync(admin, LogName, Settled, "every group leading and following");
            var homes = await HomesAsync(grains);
            var away = AwayFromHome(description, homes);
            foreach (var partition in description.Partitions)
            {
                var running = partition.Replicas.Aggregate(0, (mask, r) => mask | (1 << r.Replica));
                if (homes.SlotMask(partition.Partition) != running)
                {
                    away.Add($"partition {partition.Partition} has homed slots {homes.SlotMask(partition.Partition):b} but runs {running:b}");
                }
            }

            if (away.Count == 0)
            {
                Mark(round == 0 ? "every homed slot runs, at home" : $"every homed slot runs, at home, after {round} looks");
                return homes;
            }

            if (round == 0)
            {
                Mark($"not yet: {string.Join(", ", away)}");
            }

            Assert.True(DateTime.UtcNow < deadline, $"30 s on, not every homed slot runs at home: {string.Join(", ", away)}");
            await Task.Delay(100);
        }
    }

    /// <summary>The replicas of <paramref name="d"/> that run on a silo other than their recorded home, as "partition/slot@silo (home H)".</summary>
    private static List<string> AwayFromHome(LogDescription d, Pyralog.Grains.Placement.ReplicaHomes homes) =>
        [.. d.Partitions.SelectMany(p => p.Replicas
            .Where(r => SiloAddress.FromParsableString(r.Silo).Endpoint.ToString() != homes.Home(p.Partition, r.Replica))
            .Select(r => $"{p.Partition}/{r.Replica}@{r.Silo} (home {homes.Home(p.Partition, r.Replica)})"))];

    private static async Task<Pyralog.Grains.Placement.ReplicaHomes> HomesAsync(IClusterClient grains) =>
        (await grains.GetGrain<Pyralog.Grains.Metadata.IMetadataAdminGrain>(0).GetMetadataLogsAsync()).Single(l => l.Info.Name == LogName).Homes!;

    /// <summary>How a moved-away replica refuses a call, once it has retired (the mover retires it after the move is recorded).</summary>
    private static async Task<string> RefusalAsync(IPartitionReplicaGrain replica)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            ReplicaStatus? answer = null;
            try
            {
                answer = await replica.GetStatusAsync();
            }
            catch (InvalidOperationException e)
            {
                return e.Message;
            }

            Assert.True(DateTime.UtcNow < deadline, $"replica {replica.GetPrimaryKeyString()} still answers 30 s after it moved away: {answer}");
            await Task.Delay(100);
        }
    }

    /// <summary>Every partition has exactly three replicas (no move under way), on three silos, each leading or following.</summary>
    private static bool Settled(LogDescription d) =>
        d.Partitions.All(p => p.Replicas.Length == 3 && !p.SharedSilos && PartitionCalls.AllLeadOrFollow(p));

    private static Dictionary<string, int> PerSilo(LogDescription d) =>
        d.Partitions.SelectMany(p => p.Replicas).GroupBy(r => r.Silo).ToDictionary(g => g.Key, g => g.Count());

    /// <summary>Appends to every partition, round after round, until <paramref name="wait"/> completes (producers do not stop for moves).</summary>
    private static async Task<LogDescription> WhileAppendingAsync(
        IClusterClient grains, LogInfo log, string stage, List<(string, AppendAck)>[] acked, List<string>[] unknown, Func<Task<LogDescription>> wait)
    {
        var waiting = wait();
        for (var round = 0; !waiting.IsCompleted; round++)
        {
            await PartitionCalls.AppendToEachAsync(grains, log, $"{stage}{round}", acked, unknown);
        }

        return await waiting;
    }

    private sealed class MovingFixture(short silos = 3, TimeSpan? rehomeAfter = null) : PyralogClusterFixture(silos), IAsyncDisposable
    {
        protected override void Configure(TestClusterBuilder builder)
        {
            builder.Properties[Moving.RehomeAfterKey] = (rehomeAfter ?? TimeSpan.Zero).ToString("c");
            builder.AddSiloBuilderConfigurator<Moving>();
        }

        async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();
    }

    private sealed class Moving : ISiloConfigurator
    {
        public const string RehomeAfterKey = "PyralogRehomeAfter";

        public void Configure(ISiloBuilder siloBuilder)
        {
            var rehomeAfter = TimeSpan.Parse(siloBuilder.Configuration[RehomeAfterKey] ?? "0", System.Globalization.CultureInfo.InvariantCulture);
            siloBuilder.Services.Configure<PyralogOptions>(o =>
            {
                o.Replication.ReplicaMoveInterval = TimeSpan.FromMilliseconds(500);
                o.Replication.RehomeAfter = rehomeAfter;
                o.Replication.HomecomingSweep = TimeSpan.FromSeconds(3); // the leftover sweep's interval too
            });
        }
    }
}
