using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Pyralog.Networking.Tests;

public sealed class InlineSocketTransportTests
{
    [Fact]
    public void UseRefusesServicesWhereOrleansIsNotRegistered()
    {
        var e = Assert.Throws<InvalidOperationException>(() => InlineSocketTransport.Use(new ServiceCollection()));
        Assert.Contains("inside UseOrleans or UseOrleansClient", e.Message);
    }

    /// <summary>
    /// Two silos and a client over TCP, every one of them on the inline transport: calls reach grains on both silos
    /// through the gateway and between the silos, and come back whole.
    /// </summary>
    [Fact]
    public async Task GrainCallsCrossSilosAndTheGatewayOverTheInlineTransport()
    {
        var opened = InlineSocketConnection.Opened;
        var builder = new TestClusterBuilder(2);
        builder.Options.ConnectionTransport = ConnectionTransportType.TcpSocket;
        builder.AddSiloBuilderConfigurator<OnInlineSockets>();
        builder.AddClientBuilderConfigurator<OnInlineSockets>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        try
        {
            // Placement chooses among the silos the gateway's cluster manifest lists.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (!cluster.Silos.All(s => ((InProcessSiloHandle)s).SiloHost.Services.GetRequiredService<IClusterManifestProvider>().Current.Silos.Count == 2))
            {
                Assert.True(DateTime.UtcNow < deadline, "the silos' cluster manifests did not list both silos within 30 s");
                await Task.Delay(20);
            }

            var silos = new HashSet<string>();
            var random = new Random(5);
            for (var key = 0; key < 40 && silos.Count < 2; key++)
            {
                var bytes = new byte[random.Next(1, 300_000)];
                random.NextBytes(bytes);
                var (echoed, silo) = await cluster.Client.GetGrain<IEchoGrain>(key).EchoAsync(bytes);
                Assert.Equal(bytes, echoed);
                silos.Add(silo);
            }

            Assert.Equal(2, silos.Count);
            // At least the client's gateway connection and one connection each way between the silos.
            Assert.True(InlineSocketConnection.Opened - opened >= 3, $"{InlineSocketConnection.Opened - opened} inline connections opened");
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    private sealed class OnInlineSockets : ISiloConfigurator, IClientBuilderConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => InlineSocketTransport.Use(siloBuilder.Services); // what Pyralog's UseInlineSockets does

        public void Configure(Microsoft.Extensions.Configuration.IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.UseInlineSockets();
    }
}
