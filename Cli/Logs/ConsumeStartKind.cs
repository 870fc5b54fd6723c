namespace Pyralog.Cli.Logs;

/// <summary>Where <c>pyralog consume</c> starts in each partition.</summary>
internal enum ConsumeStartKind
{
    Earliest,
    Latest,
    Offset,
    Time,
}
