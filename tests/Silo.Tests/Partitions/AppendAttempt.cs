using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Silo.Tests.Partitions;

/// <summary>One append call to one replica: where it went, how it ended, and the acknowledgement or the error.</summary>
internal sealed record AppendAttempt(string Replica, AppendOutcome Outcome, AppendAck? Ack, Exception? Error, long StartedAt, long EndedAt)
{
    public TimeSpan Elapsed => System.Diagnostics.Stopwatch.GetElapsedTime(StartedAt, EndedAt);
}
