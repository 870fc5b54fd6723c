namespace Pyralog.Consensus;

/// <summary>A run of consecutive log entries of one term, starting at <see cref="FirstIndex"/> and ending where the next run starts.</summary>
public readonly record struct TermRun(long FirstIndex, long Term);
