using System.Globalization;

namespace Pyralog.Storage.Native.Tests;

/// <summary>
/// Seeds for the randomised storage tests: fixed, so a default run is reproducible and a failure names a seed that
/// repeats it; <c>PYRALOG_TEST_SEED</c> shifts every seed (as in the silo tests) to explore others.
/// </summary>
internal static class TestSeed
{
    public static int Of(int seed) =>
        unchecked(seed + (int.TryParse(Environment.GetEnvironmentVariable("PYRALOG_TEST_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var shift) ? shift : 0));
}
