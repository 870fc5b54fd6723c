using Pyralog.Bench.Storage;

namespace Pyralog.Bench.Tests;

public sealed class RocksDbTargetTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task RocksDbRunsUncompressedOnEveryLevelAndSyncsItsFilesEveryMebibyte()
    {
        await new RocksDbTarget(_directory.Path).DisposeAsync();

        // The options the database opened with, as RocksDB wrote them down.
        var options = File.ReadAllLines(Directory.GetFiles(_directory.Path, "OPTIONS-*").Order(StringComparer.Ordinal).Last())
            .Select(l => l.Trim()).ToHashSet();
        // No per-level list and no bottommost setting: compression holds on every level.
        Assert.Contains("compression=kNoCompression", options);
        Assert.DoesNotContain(options, l => l.StartsWith("compression_per_level", StringComparison.Ordinal));
        Assert.Contains("bottommost_compression=kDisableCompressionOption", options);
        Assert.Contains("bytes_per_sync=1048576", options);
        Assert.Contains("wal_bytes_per_sync=1048576", options);
    }
}
