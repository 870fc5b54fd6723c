namespace Pyralog.Networking.Tests;

public sealed class EchoGrain(ILocalSiloDetails silo) : Grain, IEchoGrain
{
    public Task<(byte[] Bytes, string Silo)> EchoAsync(byte[] bytes) => Task.FromResult((bytes, silo.SiloAddress.ToString()));
}
