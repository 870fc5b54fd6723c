namespace Pyralog.Bench.Harness;

/// <summary>A named group of cases run by <c>dotnet run -c Release --project bench -- NAME</c>.</summary>
public interface IBenchSuite
{
    string Name { get; }

    string Description { get; }

    Task RunAsync(BenchReport report, CancellationToken cancellationToken);
}
