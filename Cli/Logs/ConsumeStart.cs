namespace Pyralog.Cli.Logs;

/// <summary>A parsed <c>--from</c>: <c>earliest</c>, <c>latest</c>, an offset, or an ISO-8601 time.</summary>
internal readonly record struct ConsumeStart(ConsumeStartKind Kind, ulong Offset = 0, DateTimeOffset Time = default)
{
    public static ConsumeStart Earliest => new(ConsumeStartKind.Earliest);

    public static ConsumeStart Latest => new(ConsumeStartKind.Latest);

    public static ConsumeStart At(ulong offset) => new(ConsumeStartKind.Offset, offset);

    public static ConsumeStart After(DateTimeOffset time) => new(ConsumeStartKind.Time, Time: time);
}
