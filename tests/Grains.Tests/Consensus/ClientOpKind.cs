namespace Pyralog.Grains.Tests.Consensus;

public enum ClientOpKind : byte
{
    Put = 0,
    Get = 1,
}
