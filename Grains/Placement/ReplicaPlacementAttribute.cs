using Pyralog.Grains.Interfaces.Logs;
using Orleans.Placement;

namespace Pyralog.Grains.Placement;

/// <summary>Places the grain class's activations with <see cref="ReplicaPlacement"/>; its grains must be keyed by <see cref="ReplicaGrainKey"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ReplicaPlacementAttribute() : PlacementAttribute(ReplicaPlacement.Singleton);
