namespace Pyralog.Consensus.Tests;

/// <summary>
/// The seed sweeps use every core; they run alone, after the parallel tests, so they never starve the timing-sensitive
/// tests of other areas.
/// </summary>
[CollectionDefinition(nameof(RaftSimulationCollection), DisableParallelization = true)]
public sealed class RaftSimulationCollection;
