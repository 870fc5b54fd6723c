using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>
/// Shape of one simulated run; every random choice is then drawn from the run's seed. The sweeps build their options
/// from a named <see cref="Profile"/>, a node count and an injected bug, which is exactly what
/// <see cref="ReplayVariables"/> prints and <see cref="FromReplayVariables"/> reads back, so every reported failure
/// replays with the options it ran with.
/// </summary>
public sealed record SimOptions
{
    public const string DefaultProfile = "default";

    /// <summary>One entry per Append and twice the fault rate: old-term entries travel alone, elections churn.</summary>
    public const string StressProfile = "stress";

    /// <summary>
    /// Pre-vote, check-quorum and auto-membership drawn per seed (each on or off), so runs also cover a group without
    /// them; without auto-membership the harness rejoins and promotes as an operator.
    /// </summary>
    public const string VariedProfile = "varied";

    /// <summary>The default schedule with the leader's commit index travelling only with appends and heartbeats
    /// (<see cref="RaftOptions.BroadcastCommit"/> off, as partition replicas run).</summary>
    public const string LazyCommitProfile = "lazy-commit";

    /// <summary>The named profile these options were built from (<see cref="FromProfile"/>).</summary>
    public string Profile { get; private init; } = DefaultProfile;

    public int Nodes { get; init; } = 3;

    /// <summary>Ticks during which faults are injected.</summary>
    public int FaultTicks { get; init; } = 400;

    /// <summary>Bound on ticks after the faults heal until a leader must have committed a fresh proposal.</summary>
    public int HealTicks { get; init; } = 300;

    public int ElectionTicks { get; init; } = 10;

    public int HeartbeatTicks { get; init; } = 2;

    public double DropRate { get; init; } = 0.05;

    public double DuplicateRate { get; init; } = 0.03;

    /// <summary>Messages are delivered 0..MaxDelay ticks after sending (which also reorders them).</summary>
    public int MaxDelay { get; init; } = 3;

    /// <summary>
    /// Mean probability per tick of a fault event (partition, crash, wipe, membership change, transfer...); each seed
    /// draws its own rate between 0.2 and 1.8 times this, so some runs are calm and some stormy.
    /// </summary>
    public double FaultRate { get; init; } = 0.15;

    public bool Crashes { get; init; } = true;

    public bool Wipes { get; init; } = true;

    /// <summary>A wiped replica's old incarnation may stay alive for a while next to the new one.</summary>
    public bool TwoIncarnations { get; init; } = true;

    public bool Membership { get; init; } = true;

    public bool Partitions { get; init; } = true;

    public bool Transfers { get; init; } = true;

    /// <summary>Each node snapshots and compacts once this many entries were applied since its last snapshot.</summary>
    public int CompactEvery { get; init; } = 12;

    /// <summary>Append size limit (entries are about 41 B; at least one entry is always sent).</summary>
    public int MaxBytesPerMessage { get; init; } = 100;

    public int Clients { get; init; } = 3;

    /// <summary>Whether a leader tells followers a new commit index at once (<see cref="RaftOptions.BroadcastCommit"/>).</summary>
    public bool BroadcastCommit { get; init; } = true;

    /// <summary>Pre-vote, check-quorum and auto-membership are drawn per seed instead of all on.</summary>
    public bool VaryProtocol { get; init; }

    public int Keys { get; init; } = 2;

    internal RaftTestBugs Bugs { get; init; }

    internal static SimOptions FromProfile(string profile, int nodes, RaftTestBugs bugs = RaftTestBugs.None) => profile switch
    {
        DefaultProfile => new SimOptions { Nodes = nodes, Bugs = bugs },
        StressProfile => new SimOptions { Profile = StressProfile, Nodes = nodes, Bugs = bugs, MaxBytesPerMessage = 1, FaultRate = 0.3 },
        VariedProfile => new SimOptions { Profile = VariedProfile, Nodes = nodes, Bugs = bugs, VaryProtocol = true },
        LazyCommitProfile => new SimOptions { Profile = LazyCommitProfile, Nodes = nodes, Bugs = bugs, BroadcastCommit = false },
        _ => throw new ArgumentException(
            $"unknown simulation profile '{profile}' (known: {DefaultProfile}, {StressProfile}, {VariedProfile}, {LazyCommitProfile})", nameof(profile)),
    };

    /// <summary>
    /// Reads a replay request: PYRALOG_RAFT_SEED (default 42), PYRALOG_RAFT_PROFILE (default, stress, varied),
    /// PYRALOG_RAFT_NODES (default 3), PYRALOG_RAFT_BUG (a <see cref="RaftTestBugs"/> name, default none).
    /// </summary>
    internal static (long Seed, SimOptions Options) FromReplayVariables(Func<string, string?> variable)
    {
        var seed = long.TryParse(variable("PYRALOG_RAFT_SEED"), out var s) ? s : 42;
        var profile = variable("PYRALOG_RAFT_PROFILE") is { Length: > 0 } p ? p : DefaultProfile;
        var nodes = int.TryParse(variable("PYRALOG_RAFT_NODES"), out var n) ? n : 3;
        var bugs = variable("PYRALOG_RAFT_BUG") is { Length: > 0 } b ? Enum.Parse<RaftTestBugs>(b) : RaftTestBugs.None;
        return (seed, FromProfile(profile, nodes, bugs));
    }

    /// <summary>
    /// The environment that makes ReplayOneSeed rerun <paramref name="seed"/> with these options, or a note naming
    /// the options when they were not built from a profile (then only a test constructing them can replay).
    /// </summary>
    internal string ReplayVariables(long seed)
    {
        var variables = $"PYRALOG_RAFT_SEED={seed} PYRALOG_RAFT_PROFILE={Profile} PYRALOG_RAFT_NODES={Nodes}" +
            (Bugs == RaftTestBugs.None ? "" : $" PYRALOG_RAFT_BUG={Bugs.ToString().Replace(" ", "", StringComparison.Ordinal)}");
        return this == FromProfile(Profile, Nodes, Bugs) ? variables : $"(options differ from profile {Profile}: {this}, bug {Bugs})";
    }
}
