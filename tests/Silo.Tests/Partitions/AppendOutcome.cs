namespace Pyralog.Silo.Tests.Partitions;

/// <summary>What a producer learnt about one append attempt.</summary>
internal enum AppendOutcome
{
    /// <summary>The leader acknowledged it: its records must be in the log at the acknowledged offsets.</summary>
    Acknowledged,

    /// <summary>Definitely not appended (<c>NotLeaderException</c>): its records must never appear.</summary>
    Refused,

    /// <summary>Timed out or the connection broke: its records may appear, but then all of them, once and together.</summary>
    Unknown,
}
