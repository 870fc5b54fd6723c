namespace Pyralog.Consensus;

/// <summary>The only source of randomness of a node (randomized election timeouts); injected so runs are reproducible.</summary>
public interface IRaftRandom
{
    /// <summary>A uniformly distributed value in [0, maxExclusive).</summary>
    int Next(int maxExclusive);
}
