namespace Pyralog.Consensus;

/// <summary>A small deterministic generator (splitmix64) so a node's timeouts depend only on its seed.</summary>
public sealed class SeededRaftRandom : IRaftRandom
{
    private ulong _state;

    public SeededRaftRandom(ulong seed) => _state = seed;

    public int Next(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        return (int)(NextUInt64() % (ulong)maxExclusive);
    }

    public ulong NextUInt64()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
