using Pyralog.Grains.Placement;

namespace Pyralog.Grains.Tests.Placement;

[ReplicaPlacement]
public sealed class ReplicaProbeGrain(ILocalSiloDetails silo) : Grain, IReplicaProbeGrain
{
    public Task<SiloAddress> GetSiloAsync() => Task.FromResult(silo.SiloAddress);
}
