using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// A test silo on which only the test moves replicas: no homecoming (nor leftover sweep) within a test, and
/// <see cref="ReplicaContexts"/> to end or migrate a replica's activation.
/// </summary>
internal sealed class ReplicasMovedByTest : ISiloConfigurator
{
    public void Configure(ISiloBuilder siloBuilder)
    {
        siloBuilder.Services.Configure<PyralogOptions>(o =>
        {
            o.Replication.HomecomingSweep = TimeSpan.FromHours(1);
            o.Replication.HomecomingInterval = TimeSpan.FromHours(1);
        });
        siloBuilder.Services.AddSingleton<ReplicaContexts>();
        siloBuilder.Services.AddSingleton<IIncomingGrainCallFilter>(sp => sp.GetRequiredService<ReplicaContexts>());
    }
}
