namespace Pyralog.Consensus.Tests;

/// <summary>A safety or liveness property the simulator found violated.</summary>
public sealed class SimulationFailure(string message) : Exception(message);
