namespace Pyralog.Silo.Tests.Obelisk;

/// <summary>What the clients of a <see cref="ScarabIdFaultRun"/> saw.</summary>
/// <param name="Ids">IDs received by all clients.</param>
/// <param name="Seconds">How long the clients took IDs.</param>
/// <param name="MaxGapMilliseconds">The longest any client waited for one ID.</param>
/// <param name="MaxGapAfterFaultSeconds">When that wait ended, in seconds after the fault (negative: before it).</param>
/// <param name="MaxGapSinceFaultMilliseconds">The longest wait for one ID that ended after the fault began.</param>
/// <param name="Duplicates">IDs received more than once.</param>
/// <param name="OrderViolations">IDs a client received after a later ID of the same obelisk.</param>
/// <param name="FirstProblem">The first duplicate or order violation, described; null if none.</param>
internal sealed record ScarabIdFaultResult(
    long Ids,
    double Seconds,
    double MaxGapMilliseconds,
    double MaxGapAfterFaultSeconds,
    double MaxGapSinceFaultMilliseconds,
    long Duplicates,
    int OrderViolations,
    string? FirstProblem)
{
    public double IdsPerSecond => Ids / Seconds;

    public override string ToString() =>
        $"{Ids:N0} IDs in {Seconds:0.0} s ({IdsPerSecond:N0}/s), max gap {MaxGapMilliseconds:0} ms " +
        $"({MaxGapAfterFaultSeconds:+0.0;-0.0} s after the fault; {MaxGapSinceFaultMilliseconds:0} ms at most since the fault), {Duplicates} duplicates, {OrderViolations} out of order" +
        (FirstProblem is null ? "" : $": {FirstProblem}");
}
