using System.Diagnostics;
using Pyralog.Grains.Consensus;
using Xunit.Abstractions;

namespace Pyralog.Grains.Tests.Consensus;

/// <summary>Seeded simulation runs: many seeds by default, a Slow sweep, one-seed replay, and proof the checks bite.</summary>
public sealed class RaftSimulationTests(ITestOutputHelper output)
{
    private static readonly SimOptions ThreeNodes = new() { Nodes = 3 };
    private static readonly SimOptions FiveNodes = new() { Nodes = 5 };

    [Fact]
    public void ThreeNodeSeedsPass() => RunSeeds(ThreeNodes, 1, 2500);

    [Fact]
    public void FiveNodeSeedsPass() => RunSeeds(FiveNodes, 100_001, 2500);

    [Fact]
    [Trait("Category", "Slow")]
    public void HundredThousandSeedsPass()
    {
        RunSeeds(ThreeNodes, 1_000_001, 50_000);
        RunSeeds(FiveNodes, 2_000_001, 50_000);
    }

    /// <summary>Replays one seed; set PYRALOG_RAFT_SEED (and PYRALOG_RAFT_NODES) to replay a reported failure.</summary>
    [Fact]
    public void ReplayOneSeed()
    {
        var seed = long.TryParse(Environment.GetEnvironmentVariable("PYRALOG_RAFT_SEED"), out var s) ? s : 42;
        var nodes = int.TryParse(Environment.GetEnvironmentVariable("PYRALOG_RAFT_NODES"), out var n) ? n : 3;
        var first = RaftSimulation.Run(seed, new SimOptions { Nodes = nodes });
        var second = RaftSimulation.Run(seed, new SimOptions { Nodes = nodes });
        output.WriteLine(first.Describe());
        Assert.True(first.Passed, first.Describe());
        Assert.Equal(first.Schedule, second.Schedule);
        Assert.Equal(first.CommittedIndex, second.CommittedIndex);
    }

    [Fact]
    public void SimulatorCatchesVotesWithoutLogCheck()
    {
        var buggy = new SimOptions { Nodes = 3, Bugs = RaftTestBugs.SkipVoteLogCheck };
        for (var seed = 1; seed <= 2000; seed++)
        {
            var r = RaftSimulation.Run(seed, buggy);
            if (!r.Passed)
            {
                output.WriteLine($"caught after {seed} seeds:\n{r.Describe()}");
                return;
            }
        }

        Assert.Fail("the simulator did not catch votes granted without the up-to-date check in 2000 seeds");
    }

    private static readonly string[] EventKinds =
    [
        "leader ", "partition", "crash ", "restart ", "wipe ", "second incarnation", "remove ", "add learner", "transfer ",
        "installs snapshot", "drop rate",
    ];

    private void RunSeeds(SimOptions options, long firstSeed, int count)
    {
        var watch = Stopwatch.StartNew();
        SimResult? failure = null;
        long committed = 0, operations = 0;
        var events = new long[EventKinds.Length];
        Parallel.For(firstSeed, firstSeed + count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, (seed, state) =>
        {
            var r = RaftSimulation.Run(seed, options);
            Interlocked.Add(ref committed, r.CommittedIndex);
            Interlocked.Add(ref operations, r.Operations);
            foreach (var line in r.Schedule)
            {
                for (var k = 0; k < EventKinds.Length; k++)
                {
                    if (line.Contains(EventKinds[k], StringComparison.Ordinal))
                    {
                        Interlocked.Increment(ref events[k]);
                    }
                }
            }

            if (!r.Passed)
            {
                lock (output)
                {
                    if (failure is null || r.Seed < failure.Seed)
                    {
                        failure = r;
                    }
                }

                state.Stop();
            }
        });
        output.WriteLine($"{count} seeds of {options.Nodes} nodes in {watch.Elapsed.TotalSeconds:F1}s; {committed} committed entries, {operations} client operations");
        output.WriteLine("events: " + string.Join(", ", EventKinds.Select((k, i) => $"{k.Trim()} {events[i]}")));
        Assert.True(failure is null, failure?.Describe());
    }
}
