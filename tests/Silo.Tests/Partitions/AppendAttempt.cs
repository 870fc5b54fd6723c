using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Silo.Tests.Partitions;

/// <summary>
/// One append call to one replica: where it went, how it ended, and the acknowledgement or the error.
/// <see cref="Redirected"/>: refused, but the replica named a leader that the next attempt goes to at once; any other
/// failure deserves a short pause before the next attempt (an election runs, or a silo is gone).
/// </summary>
internal sealed record AppendAttempt(string Replica, AppendOutcome Outcome, AppendAck? Ack, Exception? Error, long StartedAt, long EndedAt, bool Redirected = false)
{
    public TimeSpan Elapsed => System.Diagnostics.Stopwatch.GetElapsedTime(StartedAt, EndedAt);
}
