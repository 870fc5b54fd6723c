using System.Diagnostics;
using Pyralog.Client.Tests.Logs;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Testing;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>
/// A client that lost its connection to one silo's gateway while that silo runs on still gets the answers of the grains
/// on that silo, through its other gateways, within seconds. An Orleans gateway keeps a client whose connection closed
/// for <c>SiloMessagingOptions.ClientDropTimeout</c> (Orleans' default: a minute, checked once a minute) and meanwhile
/// takes every message its silo sends that client, the answers to calls that entered elsewhere included, to hand over on
/// a reconnect that may not come: with Orleans' defaults those answers are lost and the client's calls to that silo time
/// out for one to two minutes. Own cluster (its silos listen on TCP).
/// </summary>
public sealed class GatewayLossTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(2);
    private readonly SocketClusterFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task A_client_that_lost_one_gateway_gets_answers_from_that_silo_through_another()
    {
        var cluster = _fixture.Cluster;
        var log = await cluster.Client.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("gateway-loss", 1, 3);
        var leader = await LeaderOffSilo.MoveAsync(cluster.Client, log, cluster.Primary!.SiloAddress.ToParsableString());
        var leaderSilo = cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == leader.Silo);

        // The client reaches the leader's silo only through the relay, and the primary directly.
        await using var relay = new GatewayRelay(leaderSilo.GatewayAddress.Endpoint.Port);
        await using var client = await PyralogClient.ConnectAsync(new PyralogClientOptions
        {
            ClusterId = cluster.Options.ClusterId,
            ServiceId = cluster.Options.ServiceId,
            GatewayPorts = [cluster.Primary.GatewayAddress.Endpoint.Port, relay.Port],
            DirectRouting = false,
            ConnectTimeout = Patience,
        });
        var replica = client.Cluster.GetGrain<IPartitionReplicaGrain>(leader.Key);
        Assert.Equal(ReplicaRole.Leader, (await replica.GetStatusAsync()).Role);
        await Eventually.TrueAsync(() => relay.Accepted > 0, "the client to connect through the relay");

        relay.Cut();

        // Calls to the leader now enter at the primary (a first one may still pick the cut gateway and be refused); the
        // leader's silo must send their answers there instead of keeping them for the client it lost.
        var clock = Stopwatch.StartNew();
        var answered = 0;
        while (answered < 20)
        {
            Assert.True(clock.Elapsed < Patience, $"the client got {answered} answers from the leader's silo in {Patience.TotalSeconds} s after losing its gateway");
            try
            {
                Assert.Equal(ReplicaRole.Leader, (await replica.GetStatusAsync().WaitAsync(CallTimeout)).Role);
                answered++;
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                answered = 0; // twenty in a row, after the last unanswered or refused call
            }
        }
    }
}
