using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Storage;
using Pyralog.Grains.Hosting;

namespace Pyralog.Grains.Tests.Hosting;

/// <summary>Whether obelisk leases are volatile follows the storage the silo resolves, whatever the order of registration.</summary>
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

    private static ObeliskLeaseStorage LeaseStorage(Action<ISiloBuilder> before, Action<ISiloBuilder> after)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering();
            before(silo);
            silo.AddPyralog();
            after(silo);
        });
        using var host = builder.Build();
        return host.Services.GetRequiredService<ObeliskLeaseStorage>();
    }

    /// <summary>Stands for Redis or any other durable provider: never called here.</summary>
    private sealed class DurableStorage : IGrainStorage
    {
        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => throw new NotSupportedException();

        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => throw new NotSupportedException();

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => throw new NotSupportedException();
    }
}
