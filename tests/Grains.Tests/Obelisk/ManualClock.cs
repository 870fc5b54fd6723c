namespace Pyralog.Grains.Tests.Obelisk;

/// <summary>A clock whose wall time can be set anywhere (also backwards) while its monotonic time only moves forward.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _wall = start;
    private long _monotonicTicks;

    public override DateTimeOffset GetUtcNow() => _wall;

    public override long GetTimestamp() => _monotonicTicks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <summary>Both clocks move forward by <paramref name="by"/>.</summary>
    public void Advance(TimeSpan by)
    {
        _wall += by;
        _monotonicTicks += by.Ticks;
    }

    /// <summary>Only the wall clock jumps (an NTP step, a VM restore).</summary>
    public void SetWall(DateTimeOffset wall) => _wall = wall;
}
