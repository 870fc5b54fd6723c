namespace Pyralog.Grains.Tests.Consensus;

/// <summary>Outcome of one simulated run: null <see cref="Failure"/> means every check passed.</summary>
public sealed record SimResult(long Seed, string? Failure, IReadOnlyList<string> Schedule, long CommittedIndex, int Operations)
{
    public bool Passed => Failure is null;

    public string Describe() =>
        $"seed {Seed}: {Failure ?? "ok"}\nschedule ({Schedule.Count} events):\n  {string.Join("\n  ", Schedule.TakeLast(400))}";
}
