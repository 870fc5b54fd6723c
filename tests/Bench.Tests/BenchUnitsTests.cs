using Pyralog.Bench.Harness;

namespace Pyralog.Bench.Tests;

public sealed class BenchUnitsTests
{
    [Fact]
    public void AMegabyteIsAMillionBytes() => Assert.Equal(1.5, BenchUnits.MegabytesPerSecond(3_000_000, 2));
}
