using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Pyralog.Grains.Diagnostics;

namespace Pyralog.Grains.Tests.Diagnostics;

/// <summary>
/// The thread-pool stall report, with the pool and the runtime's counters stood in: a probe that starts within the
/// threshold says nothing; one that starts 1.5 s after it was queued gives one warning with what the runtime did meanwhile.
/// </summary>
public sealed class ThreadPoolStallReportTests
{
    [Fact]
    public void A_probe_that_waited_past_the_threshold_is_reported_with_what_the_runtime_did_meanwhile()
    {
        var time = new FakeTimeProvider();
        var log = new LogRecorder<ThreadPoolStallReport>();
        var queued = new List<Action>();
        var runtime = new RuntimeSample(TimeSpan.FromMilliseconds(40), 10, 3, 1, TimeSpan.FromSeconds(2), 1000, 4, 0);
        var report = new ThreadPoolStallReport(log, time, queued.Add, () => runtime);

        report.Check();
        time.Advance(TimeSpan.FromMilliseconds(300));
        queued[0]();
        report.Check(); // started after 300 ms: not a stall; the next probe is queued
        Assert.Empty(log.Lines);
        Assert.Equal(2, queued.Count);

        time.Advance(TimeSpan.FromMilliseconds(1500));
        runtime = runtime with
        {
            GcPause = runtime.GcPause + TimeSpan.FromMilliseconds(1200), Gen0Collections = 11, Gen2Collections = 2,
            Cpu = runtime.Cpu + TimeSpan.FromMilliseconds(350), CompletedWorkItems = 1012, Threads = 7, PendingWorkItems = 40,
        };
        report.Check(); // still waiting: judged once it starts
        Assert.Empty(log.Lines);
        Assert.Equal(2, queued.Count);

        queued[1]();
        report.Check();
        var line = Assert.Single(log.Lines);
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Equal(
            "The .NET thread pool started nothing for 1500 ms; meanwhile GC paused the process for 1200 ms (1/0/1 collections of generations 0/1/2), " +
            "the process used 350 ms of CPU, the pool completed 12 work items and now has 7 threads (+3) and 40 work items waiting",
            line.Message);
        Assert.Equal(3, queued.Count);
    }
}
