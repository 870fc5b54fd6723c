using System.Text;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Testing;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>
/// A client's calls to a partition's leader enter the cluster at the leader's silo, and follow the leadership when
/// that silo dies. Own cluster (it kills a silo; its silos listen on TCP).
/// </summary>
public sealed class DirectRoutingTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly SocketClusterFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task Calls_to_a_leader_enter_at_its_silo_and_follow_the_leadership_when_that_silo_dies()
    {
        var cluster = _fixture.Cluster;
        await using (var plain = await _fixture.ConnectAsync(directRouting: false))
        {
            await plain.CreateLogAsync("plain", 1, 3);
            await using var producer = plain.CreateProducer(new ProducerOptions { Linger = TimeSpan.Zero });
            Assert.Equal(0UL, (await producer.ProduceAsync("plain", Rec(0))).Offset);
            Assert.Null(plain.Routes); // every call entered through the gateway Orleans picked
        }

        await using var client = await _fixture.ConnectAsync(directRouting: true);
        var routes = client.Routes!;
        await using var producer2 = client.CreateProducer(new ProducerOptions
        {
            Linger = TimeSpan.Zero,
            RequestTimeout = TimeSpan.FromSeconds(2),
            DeliveryTimeout = TimeSpan.FromSeconds(60),
        });

        // A log whose leader is not on the primary silo (it holds the test cluster's membership table).
        var log = await client.CreateLogAsync("direct", 1, 3);
        var leader = await LeaderOffSilo.MoveAsync(cluster.Client, log, cluster.Primary!.SiloAddress.ToParsableString());
        await producer2.ProduceAsync(log.Name, Rec(0));
        PartitionDescription partition = null!;
        await UntilAsync(async () =>
        {
            partition = (await client.DescribeLogAsync(log.Name)).Partitions[0];
            return log.ReplicaKey(0, partition.LeaderReplica) == leader.Key && partition.LeaderSilo == leader.Silo;
        }, $"the log's description to name its leader {leader.Key}");

        var sent = 1;
        var acks = new List<RecordAck>();
        var leaderKey = log.ReplicaKey(0, partition.LeaderReplica);
        await UntilAsync(async () =>
        {
            acks.Add(await producer2.ProduceAsync(log.Name, Rec(sent++)));
            return routes.RouteOf(leaderKey)?.ToParsableString() == partition.LeaderSilo;
        }, $"the route to {leaderKey} to be its silo {partition.LeaderSilo}");

        await cluster.KillSiloAsync(cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == partition.LeaderSilo));
        PartitionDescription after = null!;
        await UntilAsync(async () =>
        {
            acks.Add(await producer2.ProduceAsync(log.Name, Rec(sent++)));
            after = (await client.DescribeLogAsync(log.Name)).Partitions[0];
            return after.LeaderSilo is { } silo && silo != partition.LeaderSilo &&
                routes.RouteOf(log.ReplicaKey(0, after.LeaderReplica))?.ToParsableString() == silo;
        }, "the route to the new leader to be its silo");

        // Nothing lost or doubled on the way: dense offsets in the order produced, a new epoch after the kill.
        Assert.Equal(Enumerable.Range(1, acks.Count).Select(o => (ulong)o), acks.Select(a => a.Offset));
        Assert.True(acks[^1].Epoch > acks[0].Epoch, "the last records were appended by a new leader");
    }

    private static async Task UntilAsync(Func<Task<bool>> step, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await step())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    private static ProducerRecord Rec(int value) => new(null, Encoding.UTF8.GetBytes($"r{value}"));
}
