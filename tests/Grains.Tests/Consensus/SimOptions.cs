using Pyralog.Grains.Consensus;

namespace Pyralog.Grains.Tests.Consensus;

/// <summary>Shape of one simulated run; every random choice is then drawn from the run's seed.</summary>
public sealed record SimOptions
{
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

    public int Keys { get; init; } = 2;

    internal RaftTestBugs Bugs { get; init; }
}
