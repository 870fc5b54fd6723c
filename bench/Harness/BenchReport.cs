using System.Globalization;
using System.Text.Json;

namespace Pyralog.Bench.Harness;

/// <summary>Collects results of one run, prints them as they arrive and as a table, and writes the JSON file.</summary>
public sealed class BenchReport
{
    private readonly List<BenchResult> _results = [];
    private readonly TextWriter _out;

    public BenchReport(TextWriter output) => _out = output;

    public IReadOnlyList<BenchResult> Results => _results;

    public void Add(string suite, string @case, string system, string metric, double value, string unit)
    {
        var result = new BenchResult(suite, @case, system, metric, value, unit);
        _results.Add(result);
        _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {suite,-8} {@case,-28} {system,-10} {metric,-12} {Format(value),16} {unit}"));
    }

    public void PrintTable()
    {
        _out.WriteLine();
        _out.WriteLine($"{"suite",-8} {"case",-28} {"system",-10} {"metric",-12} {"value",16} unit");
        _out.WriteLine(new string('-', 90));
        foreach (var r in _results)
        {
            _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Suite,-8} {r.Case,-28} {r.System,-10} {r.Metric,-12} {Format(r.Value),16} {r.Unit}"));
        }
    }

    public async Task WriteJsonAsync(string path)
    {
        var rows = _results.Select(r => new Dictionary<string, object>
        {
            ["suite"] = r.Suite,
            ["case"] = r.Case,
            ["system"] = r.System,
            ["metric"] = r.Metric,
            ["value"] = r.Value,
            ["unit"] = r.Unit,
        });
        await using var file = File.Create(path);
        await JsonSerializer.SerializeAsync(file, rows, new JsonSerializerOptions { WriteIndented = true });
    }

    private static string Format(double value) =>
        value >= 1000 ? value.ToString("N0", CultureInfo.InvariantCulture) : value.ToString("0.###", CultureInfo.InvariantCulture);
}
