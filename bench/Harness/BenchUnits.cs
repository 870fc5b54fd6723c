namespace Pyralog.Bench.Harness;

/// <summary>The units the reports name: an "MB" is 1,000,000 bytes, as a disk's or a peer's MB/s is.</summary>
internal static class BenchUnits
{
    public const double BytesPerMegabyte = 1_000_000;

    public static double MegabytesPerSecond(double bytes, double seconds) => bytes / BytesPerMegabyte / seconds;
}
