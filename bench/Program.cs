using Pyralog.Bench;
using Pyralog.Bench.Harness;

// dotnet run -c Release --project bench -- SUITE [SUITE...] [--json FILE]
var suites = BenchSuites.All.ToDictionary(s => s.Name, StringComparer.OrdinalIgnoreCase);
string? jsonPath = null;
var selected = new List<IBenchSuite>();
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--json")
    {
        if (i + 1 >= args.Length)
        {
            Console.Error.WriteLine("--json needs a file path");
            return 2;
        }

        jsonPath = args[++i];
    }
    else if (suites.TryGetValue(args[i], out var suite))
    {
        selected.Add(suite);
    }
    else
    {
        Console.Error.WriteLine($"unknown suite '{args[i]}'; known: {string.Join(", ", suites.Keys)}");
        return 2;
    }
}

if (selected.Count == 0)
{
    Console.Error.WriteLine("usage: bench SUITE [SUITE...] [--json FILE]");
    foreach (var s in suites.Values)
    {
        Console.Error.WriteLine($"  {s.Name,-10} {s.Description}");
    }

    return 2;
}

var report = new BenchReport(Console.Out);
foreach (var suite in selected)
{
    Console.WriteLine($"== {suite.Name}: {suite.Description}");
    await suite.RunAsync(report, CancellationToken.None);
}

report.PrintTable();
if (jsonPath is not null)
{
    await report.WriteJsonAsync(jsonPath);
    Console.WriteLine($"wrote {jsonPath}");
}

return 0;
