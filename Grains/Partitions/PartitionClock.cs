namespace Pyralog.Grains.Partitions;

/// <summary>
/// The clock partitions stamp append times with and judge retention by, and how often a leader checks retention.
/// A silo uses its <see cref="TimeProvider"/> (registered by AddPyralog); tests register one over a fake time to age
/// records without waiting. Only leaders read it, and only to decide what to propose: applying never does.
/// </summary>
internal sealed class PartitionClock(TimeProvider time, TimeSpan? retentionCheckInterval = null)
{
    /// <summary>How often a leader checks retention when nothing else makes it check (appends check at once).</summary>
    public static readonly TimeSpan DefaultRetentionCheckInterval = TimeSpan.FromSeconds(5);

    public TimeProvider Time { get; } = time;

    public TimeSpan RetentionCheckInterval { get; } = retentionCheckInterval is { } interval && interval > TimeSpan.Zero ? interval : DefaultRetentionCheckInterval;

    public long NowMs => Time.GetUtcNow().ToUnixTimeMilliseconds();
}
