namespace Pyralog.Consensus.Tests;

/// <summary>A simulated client: at most one operation outstanding, against the node it believes leads.</summary>
internal sealed class SimClient
{
    public long LeaderGuess { get; set; }

    public SimInstance? Target { get; set; }

    public ClientOpKind Kind { get; set; }

    public byte Key { get; set; }

    public long Value { get; set; }

    public long OpId { get; set; }

    public long Invoke { get; set; }

    public long Deadline { get; set; }

    /// <summary>Put: the index and term the proposal got.</summary>
    public long Index { get; set; }

    public long Term { get; set; }

    /// <summary>Get: the read index once the ReadState arrived (0 = not yet).</summary>
    public long ReadIndex { get; set; }

    public bool Busy => Target is not null;
}
