namespace Pyralog.Grains.Tests.Placement;

/// <summary>A grain placed like a Raft replica, reporting where it runs.</summary>
public interface IReplicaProbeGrain : IGrainWithStringKey
{
    Task<SiloAddress> GetSiloAsync();
}
