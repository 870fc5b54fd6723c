using Pyralog.Bench.Storage;

namespace Pyralog.Bench.Tests;

public sealed class RecoveryProbeOutputTests
{
    [Fact]
    public void TheOpenTimeIsTakenOnlyFromAProbeThatExited0HavingRecoveredEveryRecord()
    {
        Assert.Equal(0.57, RecoveryProbeOutput.OpenSeconds("starting\nrecovery 0.57 1000000\n", 0, 1_000_000));

        var short_ = Assert.Throws<InvalidOperationException>(() => RecoveryProbeOutput.OpenSeconds("recovery 0.41 999000\n", 0, 1_000_000));
        Assert.Equal("the recovery probe recovered 999,000 of the 1,000,000 records written", short_.Message);
        var failed = Assert.Throws<InvalidOperationException>(() => RecoveryProbeOutput.OpenSeconds("recovery 0.41 1000000\n", 134, 1_000_000));
        Assert.StartsWith("the recovery probe exited with code 134", failed.Message);
        var silent = Assert.Throws<InvalidOperationException>(() => RecoveryProbeOutput.OpenSeconds("Unhandled exception\n", 0, 1_000_000));
        Assert.StartsWith("the recovery probe printed no result", silent.Message);
    }
}
