namespace Pyralog.Grains.Metadata;

/// <summary>
/// The metadata leader's applied state as of <paramref name="AppliedIndex"/>: every log, or null when the caller already
/// holds the state at that index (replicas that applied the same index hold the same state, so the index names it), and
/// the group's metadata version (1 from a leader of a build before versions).
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.MetadataLogsView")]
public sealed record MetadataLogsView([property: Id(0)] long AppliedIndex, [property: Id(1)] MetadataLog[]? Logs, [property: Id(2)] int Version = 1);
