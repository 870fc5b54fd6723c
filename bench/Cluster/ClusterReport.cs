using System.Globalization;
using Pyralog.Bench.Harness;

namespace Pyralog.Bench.Cluster;

/// <summary>How every system's figures are reported and judged, so the rows of one case line up across systems.</summary>
internal static class ClusterReport
{
    public static void Produce(BenchReport report, string @case, string system, LoadResult result, bool withThroughput)
    {
        if (withThroughput)
        {
            report.Add(ClusterSettings.Suite, @case, system, "records/s", result.RecordsPerSecond, "records/s");
            report.Add(ClusterSettings.Suite, @case, system, "records", result.Counted, "records");
            report.Add(ClusterSettings.Suite, @case, system, "cpu us/record", result.CpuMicrosPerRecord, "us");
            report.Add(ClusterSettings.Suite, @case, system, "server cpu us/record", result.ServerCpuMicrosPerRecord, "us");
        }

        if (result.Latencies.Count > 0)
        {
            report.Add(ClusterSettings.Suite, @case, system, "p50 us", result.Latencies.PercentileMicros(50), "us");
            report.Add(ClusterSettings.Suite, @case, system, "p99 us", result.Latencies.PercentileMicros(99), "us");
        }
        else
        {
            ClusterSettings.Log($"{@case} ({system}): no record started and was acknowledged within the measured span");
        }

        if (result.Failed > 0)
        {
            report.Add(ClusterSettings.Suite, @case, system, "failed", result.Failed, "records");
        }
    }

    public static void Consume(BenchReport report, string @case, string system, long records, TimeSpan elapsed, long expected)
    {
        report.Add(ClusterSettings.Suite, @case, system, "records/s", records / elapsed.TotalSeconds, "records/s");
        report.Add(ClusterSettings.Suite, @case, system, "records", records, "records");
        if (records < expected)
        {
            ClusterSettings.Log($"{@case} ({system}): read {records:N0} of the {expected:N0} records produced within {ClusterSettings.ConsumeBudget.TotalSeconds:0} s");
        }
    }

    /// <summary>Failover trials: p50 and max, the trials counted and failed; prints the 1 s target for Pyralog.</summary>
    public static void Failover(BenchReport report, string @case, string system, List<double> trials, int failed)
    {
        if (failed > 0)
        {
            report.Add(ClusterSettings.Suite, @case, system, "failed trials", failed, "trials");
        }

        if (trials.Count > 0)
        {
            trials.Sort();
            report.Add(ClusterSettings.Suite, @case, system, "p50 ms", trials[(trials.Count - 1) / 2], "ms");
            report.Add(ClusterSettings.Suite, @case, system, "max ms", trials[^1], "ms");
            report.Add(ClusterSettings.Suite, @case, system, "trials", trials.Count, "trials");
        }
        else
        {
            ClusterSettings.Log($"{@case} ({system}): no failover trial succeeded");
        }
    }

    /// <summary>Runs a selected case; one that fails is reported as failed and the run goes on with the others.</summary>
    public static async Task RunCaseAsync(BenchReport report, string @case, string system, Func<Task> run)
    {
        if (!BenchSelection.Case(@case))
        {
            return;
        }

        try
        {
            await run();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            ClusterSettings.Log($"{@case} ({system}) FAILED: {e.GetType().Name}: {e.Message}");
            report.Add(ClusterSettings.Suite, @case, system, "failed", 1, "count");
        }
    }

    /// <summary>
    /// The failover target over a case's figures: all <see cref="ClusterSettings.FailoverTrials"/> trials succeeded and
    /// the longest took at most <see cref="ClusterSettings.FailoverTarget"/>; null when the case left no trial at all.
    /// </summary>
    public static bool? FailoverMet(BenchReport report, string @case, string system)
    {
        var failed = Find(report, @case, system, "failed trials")?.Value ?? 0;
        var trials = Find(report, @case, system, "trials")?.Value ?? 0;
        if (failed == 0 && trials == 0)
        {
            return null;
        }

        return failed == 0 && trials >= ClusterSettings.FailoverTrials && Find(report, @case, system, "max ms")!.Value <= ClusterSettings.FailoverTarget.TotalMilliseconds;
    }

    public static BenchResult? Find(BenchReport report, string @case, string system, string metric) =>
        report.Results.LastOrDefault(r => r.Suite == ClusterSettings.Suite && r.Case == @case && r.System == system && r.Metric == metric);

    /// <summary>
    /// Prints a target comparing Pyralog's figure with a peer's (<paramref name="met"/> gets Pyralog's, then the peer's);
    /// names what is missing when either figure is.
    /// </summary>
    public static void Target(BenchReport report, string text, string pyralogCase, string peer, string peerCase, string metric, Func<double, double, bool> met)
    {
        var ours = Find(report, pyralogCase, "pyralog", metric);
        var theirs = Find(report, peerCase, peer, metric);
        if (ours is null || theirs is null)
        {
            Console.WriteLine($"    target {text}: not judged ({(ours is null ? $"no pyralog {pyralogCase} {metric}" : $"no {peer} {peerCase} {metric}")})");
            return;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    target {text}: {(met(ours.Value, theirs.Value) ? "met" : "MISSED")} (pyralog {ours.Value:0.###} {ours.Unit}, {peer} {theirs.Value:0.###} {theirs.Unit})"));
    }
}
