using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Metadata;

/// <summary>A replica of the metadata group, keyed <c>"0/0/{replica}"</c>: the silo-internal side of <see cref="IPyralogAdminGrain"/>.</summary>
[Alias("pyralog.IMetadataReplicaGrain")]
public interface IMetadataReplicaGrain : IRaftReplicaGrain
{
    [Alias("BootstrapAsync")]
    Task<bool> BootstrapAsync(long[] incarnations);

    /// <summary>Commits a <c>MetadataCommand</c> (its encoded form) and returns what applying it did.</summary>
    /// <exception cref="NotLeaderException">Not the leader.</exception>
    [Alias("ProposeAsync")]
    Task<MetadataResult> ProposeAsync(byte[] command);

    /// <summary>Every log, read linearizably at the leader.</summary>
    /// <exception cref="NotLeaderException">Not the leader.</exception>
    [Alias("QueryAsync")]
    Task<MetadataLog[]> QueryAsync();

    /// <summary>
    /// Every log as the leader has applied them, without a round to the followers: it does not wake an idle group, and may
    /// trail the latest commits (and, from a leader that was just replaced without knowing it, a term's). Without the
    /// logs when the applied index is <paramref name="knownIndex"/>.
    /// </summary>
    /// <exception cref="NotLeaderException">Not the leader.</exception>
    [Alias("QueryAppliedAsync")]
    Task<MetadataLogsView> QueryAppliedAsync(long knownIndex);

    /// <summary>Every log as this replica has applied them, without asking the leader: a follower's may lag (its status' <c>AppliedIndex</c> says how far it is).</summary>
    [Alias("AppliedLogsAsync")]
    Task<MetadataLog[]> AppliedLogsAsync();
}
