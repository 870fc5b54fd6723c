namespace Pyralog.Silo.Tests.Partitions;

/// <summary>
/// Problems found by a check, grouped by kind: the first few of each kind are kept verbatim, the rest only counted, so a
/// broken log of a million records still yields a readable report.
/// </summary>
internal sealed class ProblemList
{
    private readonly int _perKind;
    private readonly List<string> _kept = [];
    private readonly Dictionary<string, int> _counts = new(StringComparer.Ordinal);

    public ProblemList(int perKind = 10) => _perKind = perKind;

    public void Add(string kind, string message)
    {
        var count = _counts.GetValueOrDefault(kind) + 1;
        _counts[kind] = count;
        if (count <= _perKind)
        {
            _kept.Add($"[{kind}] {message}");
        }
    }

    public IReadOnlyList<string> ToList() =>
    [
        .. _kept,
        .. _counts.Where(c => c.Value > _perKind).Select(c => $"[{c.Key}] ... and {c.Value - _perKind} more"),
    ];
}
