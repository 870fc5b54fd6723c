using Pyralog.Grains.Interfaces.Logs;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Placement;

namespace Pyralog.Grains.Placement;

/// <summary>
/// Places Raft replica grains (keyed by <see cref="ReplicaGrainKey"/>) so that the replicas of one group land on
/// distinct silos; see <see cref="ReplicaPlacementDirector"/> for the rule. Mark grain classes with
/// <see cref="ReplicaPlacementAttribute"/> and register the director with <see cref="AddTo"/> on every silo.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class ReplicaPlacement : PlacementStrategy
{
    internal static ReplicaPlacement Singleton { get; } = new();

    /// <summary>Registers <see cref="ReplicaPlacementDirector"/> for this strategy; registering twice is harmless.</summary>
    public static IServiceCollection AddTo(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var registered = services.Any(d =>
            d.ServiceType == typeof(IPlacementDirector) && d.IsKeyedService && Equals(d.ServiceKey, typeof(ReplicaPlacement)));
        if (!registered)
        {
            services.AddPlacementDirector<ReplicaPlacement, ReplicaPlacementDirector>();
        }

        return services;
    }
}
