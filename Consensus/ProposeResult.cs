namespace Pyralog.Consensus;

/// <summary>
/// Result of a proposal, read or membership request. Accepted proposals occupy log indexes
/// <see cref="FirstIndex"/>..<see cref="LastIndex"/> in term <see cref="Term"/>; they are committed only once they
/// come back in <see cref="Ready.CommittedEntries"/> with that term.
/// </summary>
public readonly record struct ProposeResult(ProposeStatus Status, long LeaderHint, long Term, long FirstIndex, long LastIndex, string? Error = null)
{
    public bool Accepted => Status == ProposeStatus.Accepted;

    internal static ProposeResult Rejected(ProposeStatus status, long leader, string? error = null) => new(status, leader, 0, 0, 0, error);
}
