namespace Pyralog.Consensus.Tests;

public enum ClientOpKind : byte
{
    Put = 0,
    Get = 1,
}
