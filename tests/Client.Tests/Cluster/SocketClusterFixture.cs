using Orleans.TestingHost;
using Pyralog.Grains.Tests.Hosting;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>Three in-process silos listening on TCP (the test cluster's default transport is in memory), so a <see cref="PyralogClient"/> can connect to their gateways as it would to real ones.</summary>
public sealed class SocketClusterFixture() : PyralogClusterFixture(3)
{
    protected override void Configure(TestClusterBuilder builder) =>
        builder.Options.ConnectionTransport = ConnectionTransportType.TcpSocket;

    /// <summary>A client of the cluster through its silos' gateways.</summary>
    public Task<PyralogClient> ConnectAsync(bool directRouting) => PyralogClient.ConnectAsync(new PyralogClientOptions
    {
        ClusterId = Cluster.Options.ClusterId,
        ServiceId = Cluster.Options.ServiceId,
        GatewayPorts = [.. Cluster.Silos.Select(s => s.GatewayAddress.Endpoint.Port)],
        DirectRouting = directRouting,
        ConnectTimeout = TimeSpan.FromSeconds(30),
    });
}
