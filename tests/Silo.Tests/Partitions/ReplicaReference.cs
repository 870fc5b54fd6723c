using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Silo.Tests.Partitions;

/// <summary>A replica's grain reference and the factory that made it (see <see cref="LeaderRouter"/>).</summary>
internal sealed record ReplicaReference(IGrainFactory Factory, IPartitionReplicaGrain Grain);
