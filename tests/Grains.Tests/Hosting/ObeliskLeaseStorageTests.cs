using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Storage;
using Pyralog.Grains.Hosting;

namespace Pyralog.Grains.Tests.Hosting;

/// <summary>Whether obelisk leases are volatile follows the storage the silo resolves, whatever the order of registration; the
/// cluster's records share that storage unless given their own.</summary>
public sealed class ObeliskLeaseStorageTests
{
    [Fact]
    public void The_default_in_memory_storage_is_volatile() =>
        Assert.True(LeaseStorage(_ => { }, _ => { }).IsVolatile);

    [Fact]
    public void A_durable_storage_registered_after_AddPyralog_is_not_volatile() =>
        Assert.False(LeaseStorage(_ => { }, silo => silo.Services.AddKeyedSingleton<IGrainStorage>(PyralogStorageNames.Obelisk, (_, _) => new DurableStorage())).IsVolatile);

    [Fact]
    public void A_durable_storage_registered_before_AddPyralog_is_not_volatile() =>
        Assert.False(LeaseStorage(silo => silo.Services.AddKeyedSingleton<IGrainStorage>(PyralogStorageNames.Obelisk, (_, _) => new DurableStorage()), _ => { }).IsVolatile);

    [Fact]
    public void An_in_memory_storage_registered_before_AddPyralog_is_volatile() =>
        Assert.True(LeaseStorage(silo => silo.AddMemoryGrainStorage(PyralogStorageNames.Obelisk), _ => { }).IsVolatile);

    /// <summary>The cluster's founding record lives in the obelisks' provider unless one is registered for it, before or after.</summary>
    [Fact]
    public void The_cluster_records_share_the_obelisks_storage_unless_given_their_own()
    {
        var durable = new DurableStorage();
        Assert.Same(durable, Resolve(silo => silo.Services.AddKeyedSingleton<IGrainStorage>(PyralogStorageNames.Obelisk, durable), _ => { }, PyralogStorageNames.Cluster));
        Assert.Same(durable, Resolve(_ => { }, silo => silo.Services.AddKeyedSingleton<IGrainStorage>(PyralogStorageNames.Obelisk, durable), PyralogStorageNames.Cluster));

        var own = new DurableStorage();
        Assert.Same(own, Resolve(silo => silo.Services.AddKeyedSingleton<IGrainStorage>(PyralogStorageNames.Cluster, own), _ => { }, PyralogStorageNames.Cluster));
        Assert.Same(own, Resolve(_ => { }, silo => silo.Services.AddKeyedSingleton<IGrainStorage>(PyralogStorageNames.Cluster, own), PyralogStorageNames.Cluster));
        Assert.IsType<MemoryGrainStorage>(Resolve(_ => { }, _ => { }, PyralogStorageNames.Cluster));
    }

    private static ObeliskLeaseStorage LeaseStorage(Action<ISiloBuilder> before, Action<ISiloBuilder> after)
    {
        using var host = Build(before, after);
        return host.Services.GetRequiredService<ObeliskLeaseStorage>();
    }

    private static IGrainStorage Resolve(Action<ISiloBuilder> before, Action<ISiloBuilder> after, string name)
    {
        using var host = Build(before, after);
        return host.Services.GetRequiredKeyedService<IGrainStorage>(name);
    }

    private static IHost Build(Action<ISiloBuilder> before, Action<ISiloBuilder> after)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering();
            before(silo);
            silo.AddPyralog();
            after(silo);
        });
        return builder.Build();
    }

    /// <summary>Stands for Redis or any other durable provider: never called here.</summary>
    private sealed class DurableStorage : IGrainStorage
    {
        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => throw new NotSupportedException();

        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => throw new NotSupportedException();

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => throw new NotSupportedException();
    }
}
