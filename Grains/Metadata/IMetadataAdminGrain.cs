namespace Pyralog.Grains.Metadata;

/// <summary>
/// The silo-internal side of the admin grain (<see cref="IPyralogAdminGrain"/>, key 0): the metadata group's whole state
/// and its commands, for the silo services that keep replica homes and move replicas.
/// </summary>
[Alias("pyralog.IMetadataAdminGrain")]
public interface IMetadataAdminGrain : IGrainWithIntegerKey
{
    /// <summary>Every log with its homes and moves, read linearizably at the metadata leader.</summary>
    [Alias("GetMetadataLogsAsync")]
    Task<MetadataLog[]> GetMetadataLogsAsync();

    /// <summary>
    /// Every log with its homes and moves as the metadata leader has applied them: no Raft round, so polling it does not
    /// keep an idle metadata group awake; it may trail the latest commits, which is all periodic refreshes and planning
    /// need (what they then commit is checked against the current state). Without the logs when the leader's applied
    /// index is <paramref name="knownIndex"/> (the caller holds that state already: polls cost no copy of every log).
    /// </summary>
    [Alias("GetAppliedMetadataLogsAsync")]
    Task<MetadataLogsView> GetAppliedMetadataLogsAsync(long knownIndex);

    /// <summary>Commits a <c>MetadataCommand</c> (its encoded form) at the metadata leader and returns what applying it did.</summary>
    [Alias("CommitMetadataAsync")]
    Task<MetadataResult> CommitMetadataAsync(byte[] command);
}
