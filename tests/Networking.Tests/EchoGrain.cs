namespace Pyralog.Networking.Tests;

// Random placement: the test needs calls on both silos, and Orleans' default (resource-optimized) placement may keep
// every new activation on the gateway silo (it prefers the local silo while the silos' loads are close).
[Orleans.Placement.RandomPlacement]
public sealed class EchoGrain(ILocalSiloDetails silo) : Grain, IEchoGrain
{
    public Task<(byte[] Bytes, string Silo)> EchoAsync(byte[] bytes) => Task.FromResult((bytes, silo.SiloAddress.ToString()));
}
