using System.Diagnostics;
using Pyralog.Consensus;
using Xunit.Abstractions;

namespace Pyralog.Consensus.Tests;

/// <summary>Seeded simulation runs: many seeds by default, a Slow sweep, one-seed replay, and proof the checks bite.</summary>
[Collection(nameof(RaftSimulationCollection))]
public sealed class RaftSimulationTests(ITestOutputHelper output)
{
    private static readonly SimOptions ThreeNodes = SimOptions.FromProfile(SimOptions.DefaultProfile, 3);
    private static readonly SimOptions FiveNodes = SimOptions.FromProfile(SimOptions.DefaultProfile, 5);
    private static readonly SimOptions Stress = SimOptions.FromProfile(SimOptions.StressProfile, 3);

    /// <summary>The group sizes the 3- and 5-node sweeps leave out, with pre-vote, check-quorum and auto-membership drawn per seed.</summary>
    public static TheoryData<int> VariedSizes => new(VariedNodeCounts);

    private static readonly int[] VariedNodeCounts = [1, 2, 4, 6, 7];

    [Fact]
    public void ThreeNodeSeedsPass() => RunSeeds(ThreeNodes, 1, 5000);

    [Fact]
    public void FiveNodeSeedsPass() => RunSeeds(FiveNodes, 100_001, 5000);

    /// <summary>One entry per Append and twice the fault rate: old-term entries travel alone, elections churn.</summary>
    [Fact]
    public void StressSeedsPass() => RunSeeds(Stress, 200_001, 2000);

    [Theory]
    [MemberData(nameof(VariedSizes))]
    public void VariedSeedsPass(int nodes) => RunSeeds(SimOptions.FromProfile(SimOptions.VariedProfile, nodes), 300_001 + nodes * 10_000, 400);

    /// <summary>Commit indexes travel only with appends and heartbeats, as partition replicas run them.</summary>
    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public void LazyCommitSeedsPass(int nodes) => RunSeeds(SimOptions.FromProfile(SimOptions.LazyCommitProfile, nodes), 500_001 + nodes * 10_000, 1500);

    [Fact]
    [Trait("Category", "Slow")]
    public void TwoHundredThousandSeedsPass()
    {
        RunSeeds(SimOptions.FromProfile(SimOptions.LazyCommitProfile, 3), 5_000_001, 30_000);
        RunSeeds(SimOptions.FromProfile(SimOptions.LazyCommitProfile, 5), 5_100_001, 30_000);
        RunSeeds(ThreeNodes, 1_000_001, 100_000);
        RunSeeds(FiveNodes, 2_000_001, 100_000);
        RunSeeds(Stress, 3_000_001, 20_000);
        for (var nodes = 1; nodes <= 7; nodes++)
        {
            RunSeeds(SimOptions.FromProfile(SimOptions.VariedProfile, nodes), 4_000_001 + nodes * 100_000, 5_000);
        }
    }

    /// <summary>
    /// Replays one seed; set the variables a failure prints after "replay:" (PYRALOG_RAFT_SEED, PYRALOG_RAFT_PROFILE,
    /// PYRALOG_RAFT_NODES, PYRALOG_RAFT_BUG) to replay it.
    /// </summary>
    [Fact]
    public void ReplayOneSeed()
    {
        var (seed, options) = SimOptions.FromReplayVariables(Environment.GetEnvironmentVariable);
        var first = RaftSimulation.Run(seed, options);
        var second = RaftSimulation.Run(seed, options);
        output.WriteLine(first.Describe());
        Assert.True(first.Passed, first.Describe());
        Assert.Equal(first.Schedule, second.Schedule);
        Assert.Equal(first.CommittedIndex, second.CommittedIndex);
    }

    /// <summary>
    /// A failure's description names its options (profile, node count, injected bug) and prints the replay
    /// variables; reading them back gives the same options and the same run, for the stress profile and 5 nodes too.
    /// </summary>
    [Fact]
    public void AFailureDescriptionReplaysWithItsOptions()
    {
        var options = SimOptions.FromProfile(SimOptions.StressProfile, 5, RaftTestBugs.ReadWithoutQuorum);
        var run = RaftSimulation.Run(7, options);
        var description = run.Describe();
        Assert.Contains("stress profile, 5 nodes, bug ReadWithoutQuorum", description, StringComparison.Ordinal);
        var replayLine = description.Split('\n').Single(l => l.StartsWith("replay: ", StringComparison.Ordinal));
        var variables = replayLine["replay: ".Length..].Split(' ').Select(v => v.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
        Assert.Equal("stress", variables["PYRALOG_RAFT_PROFILE"]);

        var (seed, replayed) = SimOptions.FromReplayVariables(name => variables.GetValueOrDefault(name));
        Assert.Equal(7, seed);
        Assert.Equal(options, replayed);
        var again = RaftSimulation.Run(seed, replayed);
        Assert.Equal(run.Schedule, again.Schedule);
        Assert.Equal(run.Failure, again.Failure);
    }

    /// <summary>
    /// Each deliberately broken node must be caught as a safety failure: the checks are not vacuous. The Figure 8
    /// error needs an old-term entry to reach a majority on its own, so that case runs the stress profile (one entry
    /// per Append, twice the faults); it is still rare (about one seed in 3,000).
    /// </summary>
    [Theory]
    [InlineData(RaftTestBugs.SkipVoteLogCheck, false, "leader")]
    [InlineData(RaftTestBugs.ReadWithoutQuorum, false, "linearizable")]
    [InlineData(RaftTestBugs.CommitPreviousTerms, true, "committed")]
    internal void SimulatorCatchesInjectedBug(RaftTestBugs bug, bool stress, string expected)
    {
        var buggy = (stress ? Stress : ThreeNodes) with { Bugs = bug };
        var (failure, _) = RunParallel(buggy, 1, 50_000);
        Assert.True(failure is not null, $"the simulator did not catch {bug} in 50000 seeds");
        output.WriteLine($"{bug} caught:\n{failure.Describe()}");
        Assert.Contains(expected, failure.Failure, StringComparison.Ordinal);
        Assert.DoesNotContain("no progress", failure.Failure, StringComparison.Ordinal);
    }

    /// <summary>
    /// The blind spots a mutation run found in the synchronous-persistence simulator, each as a deliberate bug: every
    /// one must fail within the seeds of the default sweep (3 nodes, then 5, then stress, then the varied sizes), and
    /// the seed and time to detection are printed.
    /// </summary>
    [Theory]
    [InlineData(RaftTestBugs.LeaderCountsUnpersisted)]
    [InlineData(RaftTestBugs.KeepSuffixOnConflict)]
    [InlineData(RaftTestBugs.ConfigChangeBeforeTermCommit)]
    [InlineData(RaftTestBugs.HardStateIgnoresVote)]
    [InlineData(RaftTestBugs.AcknowledgeBeforePersist)]
    [InlineData(RaftTestBugs.SelfVoteBeforePersist)]
    internal void DefaultSweepCatchesInjectedBug(RaftTestBugs bug)
    {
        var watch = Stopwatch.StartNew();
        (SimOptions Options, long First, int Count)[] sweep =
        [
            (ThreeNodes, 1, 5000), (FiveNodes, 100_001, 5000), (Stress, 200_001, 2000),
            .. VariedNodeCounts.Select(nodes => (SimOptions.FromProfile(SimOptions.VariedProfile, nodes), 300_001 + nodes * 10_000L, 400)),
        ];
        foreach (var (options, first, count) in sweep)
        {
            var (failure, results) = RunParallel(options with { Bugs = bug }, first, count);
            if (failure is not null)
            {
                output.WriteLine($"{bug} caught after {watch.Elapsed.TotalSeconds:F1}s ({results.Count} seeds of {options.Profile}/{options.Nodes}):\n{failure.Describe()}");
                return;
            }
        }

        Assert.Fail($"the default sweep did not catch {bug}");
    }

    private static readonly string[] EventKinds =
    [
        "leader ", "partition", "crash ", "restart ", "wipe ", "second incarnation", "short-lived new incarnation", "during a removal", "remove ", "add learner", "transfer ",
        "installs snapshot", "drop rate", "tearing a write", "write fails", "right after its election", "add voter", "liveness: transfer",
    ];

    private void RunSeeds(SimOptions options, long firstSeed, int count)
    {
        var watch = Stopwatch.StartNew();
        var (failure, results) = RunParallel(options, firstSeed, count);
        var events = new long[EventKinds.Length];
        foreach (var r in results)
        {
            foreach (var line in r.Schedule)
            {
                for (var k = 0; k < EventKinds.Length; k++)
                {
                    if (line.Contains(EventKinds[k], StringComparison.Ordinal))
                    {
                        events[k]++;
                    }
                }
            }
        }

        output.WriteLine($"{results.Count} seeds ({options.Profile} profile, {options.Nodes} nodes) in {watch.Elapsed.TotalSeconds:F1}s; " +
            $"{results.Sum(r => r.CommittedIndex)} committed entries, {results.Sum(r => (long)r.Operations)} client operations");
        output.WriteLine("events: " + string.Join(", ", EventKinds.Select((k, i) => $"{k.Trim()} {events[i]}")));
        Assert.True(failure is null, failure?.Describe());
    }

    /// <summary>Runs seeds on all cores; stops at a failure and reports the smallest failing seed seen.</summary>
    private static (SimResult? Failure, List<SimResult> Results) RunParallel(SimOptions options, long firstSeed, int count)
    {
        SimResult? failure = null;
        var results = new List<SimResult>(count);
        Parallel.For(firstSeed, firstSeed + count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, (seed, state) =>
        {
            var r = RaftSimulation.Run(seed, options);
            lock (results)
            {
                results.Add(r);
                if (!r.Passed && (failure is null || r.Seed < failure.Seed))
                {
                    failure = r;
                }
            }

            if (!r.Passed)
            {
                state.Stop();
            }
        });
        return (failure, results);
    }
}
