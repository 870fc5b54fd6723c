namespace Pyralog.Consensus.Tests;

/// <summary>Outcome of one simulated run: null <see cref="Failure"/> means every check passed.</summary>
public sealed record SimResult(long Seed, SimOptions Options, string? Failure, IReadOnlyList<string> Schedule, long CommittedIndex, int Operations)
{
    public bool Passed => Failure is null;

    /// <summary>The outcome, the options (profile, node count, injected bug) with the environment that replays them, and the schedule.</summary>
    public string Describe() =>
        $"seed {Seed} ({Options.Profile} profile, {Options.Nodes} nodes, bug {Options.Bugs}): {Failure ?? "ok"}\n" +
        $"replay: {Options.ReplayVariables(Seed)}\n" +
        $"schedule ({Schedule.Count} events):\n  {string.Join("\n  ", Schedule.TakeLast(400))}";
}
