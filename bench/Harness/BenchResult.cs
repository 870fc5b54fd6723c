namespace Pyralog.Bench.Harness;

/// <summary>
/// One measured figure. <see cref="Case"/> + <see cref="Metric"/> are comparable across systems
/// (<c>pyralog</c>, a peer's name, <c>floor</c> or <c>ceiling</c>).
/// </summary>
public sealed record BenchResult(string Suite, string Case, string System, string Metric, double Value, string Unit);
