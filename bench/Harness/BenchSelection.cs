namespace Pyralog.Bench.Harness;

/// <summary>
/// Which cases and systems a run measures: <c>PYRALOG_BENCH_CASES=a,b</c> runs only the cases whose names start with one
/// of the prefixes (<c>produce-100B-window</c> also selects <c>produce-100B-window-fsync</c>), and
/// <c>PYRALOG_BENCH_SYSTEMS=pyralog,rocksdb</c> only the systems named; all when unset.
/// </summary>
internal static class BenchSelection
{
    public static bool Case(string @case) =>
        Environment.GetEnvironmentVariable("PYRALOG_BENCH_CASES") is not { Length: > 0 } filter
        || filter.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Any(p => Selects(p, @case));

    private static bool Selects(string pattern, string @case) =>
        pattern.EndsWith('$') ? @case.AsSpan().SequenceEqual(pattern.AsSpan(0, pattern.Length - 1)) : @case.StartsWith(pattern, StringComparison.Ordinal);

    public static bool System(string system) =>
        Environment.GetEnvironmentVariable("PYRALOG_BENCH_SYSTEMS") is not { Length: > 0 } filter
        || filter.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Contains(system, StringComparer.OrdinalIgnoreCase);
}
