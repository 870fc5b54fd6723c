namespace Pyralog.Client.Logs;

/// <summary>Where a consumer starts in a partition.</summary>
public abstract record ConsumeFrom
{
    private ConsumeFrom()
    {
    }

    /// <summary>The first retained record.</summary>
    public static ConsumeFrom Earliest { get; } = new EarliestRecord();

    /// <summary>The committed end when consuming starts: only records appended from then on.</summary>
    public static ConsumeFrom Latest { get; } = new LatestRecord();

    /// <summary>A given offset (below the first retained one or beyond the committed end is refused; at the end waits for new records).</summary>
    public static ConsumeFrom Offset(ulong offset) => new AtOffset(offset);

    /// <summary>The first record appended at or after <paramref name="time"/> (the committed end if none is yet).</summary>
    public static ConsumeFrom Time(DateTimeOffset time) => new AtTime(time);

    public sealed record EarliestRecord : ConsumeFrom;

    public sealed record LatestRecord : ConsumeFrom;

    public sealed record AtOffset(ulong Value) : ConsumeFrom;

    public sealed record AtTime(DateTimeOffset Value) : ConsumeFrom;
}
