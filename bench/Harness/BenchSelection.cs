namespace Pyralog.Bench.Harness;

/// <summary>
/// Which cases and systems a run measures: <c>PYRALOG_BENCH_CASES=a,b</c> runs only the cases whose names start with one
/// of the prefixes (<c>produce-100B-window</c> also selects <c>produce-100B-window-fsync</c>; one ending in <c>$</c> selects
/// the case of exactly that name), and
/// <c>PYRALOG_BENCH_SYSTEMS=pyralog,rocksdb</c> only the systems named; all when unset.
/// </summary>
internal static class BenchSelection
{
    private const string CasesVariable = "PYRALOG_BENCH_CASES";

    public static bool Case(string @case) => Case(@case, Environment.GetEnvironmentVariable(CasesVariable));

    /// <summary>Whether <paramref name="filter"/> (the variable's value; null or empty: every case) selects <paramref name="case"/>.</summary>
    public static bool Case(string @case, string? filter) =>
        filter is not { Length: > 0 }
        || filter.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Any(p => Selects(p, @case));

    /// <summary>The variable's value, for suites that decide several cases at once.</summary>
    public static string? CaseFilter => Environment.GetEnvironmentVariable(CasesVariable);

    private static bool Selects(string pattern, string @case) =>
        pattern.EndsWith('$') ? @case.AsSpan().SequenceEqual(pattern.AsSpan(0, pattern.Length - 1)) : @case.StartsWith(pattern, StringComparison.Ordinal);

    public static bool System(string system) =>
        Environment.GetEnvironmentVariable("PYRALOG_BENCH_SYSTEMS") is not { Length: > 0 } filter
        || filter.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Contains(system, StringComparer.OrdinalIgnoreCase);
}
