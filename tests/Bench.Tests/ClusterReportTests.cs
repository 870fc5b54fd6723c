using Pyralog.Bench.Cluster;
using Pyralog.Bench.Harness;

namespace Pyralog.Bench.Tests;

public sealed class ClusterReportTests
{
    [Fact]
    public void TheFailoverTargetHoldsOnlyWhenEveryTrialRanAndSucceededWithinASecond()
    {
        var all = ClusterSettings.FailoverTrials;
        Assert.True(Met(Trials(all, slowest: 990), failed: 0));
        Assert.False(Met(Trials(all, slowest: 1_001), failed: 0)); // one too slow
        Assert.False(Met(Trials(all - 1, slowest: 580), failed: 1)); // one never recovered: the max of the rest is fine
        Assert.False(Met(Trials(all, slowest: 580), failed: 1)); // more trials than asked, one failed
        Assert.False(Met([], failed: 2)); // every trial failed
        Assert.Null(Met([], failed: 0)); // no trial at all
        if (all > 1)
        {
            Assert.False(Met(Trials(all - 1, slowest: 580), failed: 0)); // too few trials
        }
    }

    private static List<double> Trials(int count, double slowest) =>
        count == 0 ? [] : [.. Enumerable.Repeat(500.0, count - 1), slowest];

    private static bool? Met(List<double> trials, int failed)
    {
        var report = new BenchReport(TextWriter.Null);
        ClusterReport.Failover(report, "failover-fsync", "pyralog", trials, failed);
        return ClusterReport.FailoverMet(report, "failover-fsync", "pyralog");
    }
}
