namespace Pyralog.Networking.Tests;

/// <summary>A grain that answers with what it was sent and the silo that ran it.</summary>
public interface IEchoGrain : IGrainWithIntegerKey
{
    Task<(byte[] Bytes, string Silo)> EchoAsync(byte[] bytes);
}
