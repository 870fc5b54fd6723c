using Pyralog.Bench.Storage;

namespace Pyralog.Bench.Tests;

public sealed class FloorFileTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void WritesGoRoundTheZeroFilledFileWithoutEverGrowingIt()
    {
        var path = Path.Combine(_directory.Path, "floor.bin");
        using (var file = new FloorFile(path, 10_000))
        {
            Assert.Equal(10_000, new FileInfo(path).Length);
            for (byte i = 1; i <= 5; i++)
            {
                file.WriteAndSync(Filled(4_000, i));
                Assert.Equal(10_000, new FileInfo(path).Length);
            }

            // At 0, 4,000, then 8,000 would pass the end: 0, 4,000, 0 again; the last 2,000 bytes keep their zeros.
            var bytes = File.ReadAllBytes(path);
            Assert.Equal(Filled(4_000, 5), bytes[..4_000]);
            Assert.Equal(Filled(4_000, 4), bytes[4_000..8_000]);
            Assert.Equal(new byte[2_000], bytes[8_000..]);
        }

        Assert.False(File.Exists(path));
    }

    [Fact]
    public void AWriteLargerThanTheFileIsRefusedNamingBothSizes()
    {
        var path = Path.Combine(_directory.Path, "floor.bin");
        using var file = new FloorFile(path, 100);
        var error = Assert.Throws<ArgumentException>(() => file.WriteAndSync(new byte[101]));
        Assert.StartsWith($"a write of 101 bytes does not fit the floor file '{path}' of 100 bytes", error.Message, StringComparison.Ordinal);
    }

    private static byte[] Filled(int length, byte value) => Enumerable.Repeat(value, length).ToArray();
}
