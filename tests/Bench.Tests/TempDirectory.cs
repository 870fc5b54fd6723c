namespace Pyralog.Bench.Tests;

/// <summary>A fresh directory under the temp path, deleted with everything in it on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("pyralog-bench-tests-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
