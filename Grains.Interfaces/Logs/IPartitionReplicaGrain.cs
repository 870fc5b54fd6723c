namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// One replica of one partition of a log, keyed <c>"{log}/{partition}/{replica}"</c> (<see cref="ReplicaKeys"/>).
/// The replicas of a partition form a Raft group; its leader appends, any replica serves the committed prefix.
/// Services usually find keys through <see cref="IPyralogAdminGrain"/> (<see cref="LogInfo.ReplicaKey"/>).
/// </summary>
[Alias("pyralog.IPartitionReplicaGrain")]
public interface IPartitionReplicaGrain : IRaftReplicaGrain
{
    /// <summary>
    /// Appends a batch at the leader; completes once a majority holds it (per the log's durability) with the batch's
    /// epoch and dense offsets.
    /// </summary>
    /// <exception cref="NotLeaderException">This replica does not lead; nothing was appended.</exception>
    /// <exception cref="ArgumentException">An empty batch, a record over the log's limit, a batch over <see cref="LogSettings.MaxBatchBytes"/>; nothing was appended.</exception>
    /// <exception cref="InvalidOperationException">The log does not exist (never created, or deleted) or this partition/replica is outside it.</exception>
    [Alias("AppendAsync")]
    Task<AppendAck> AppendAsync(ProducerRecord[] records);

    /// <summary>
    /// Committed records from <paramref name="fromOffset"/>, up to about <paramref name="maxBytes"/> (at least one
    /// record when any is available). Any replica serves what it has applied; <paramref name="linearizable"/> asks the
    /// leader to confirm it still leads first, so the read reflects every append acknowledged before it began.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The offset is below the first retained offset or beyond the committed end (named in the message).</exception>
    /// <exception cref="NotLeaderException">A linearizable read reached a replica that does not lead.</exception>
    [Alias("ReadAsync")]
    Task<ReadBatch> ReadAsync(ulong fromOffset, int maxBytes, bool linearizable = false);

    /// <summary>Starts the group with the first configuration, if this replica is still empty and the configuration names its incarnation (creation, internal).</summary>
    [Alias("BootstrapAsync")]
    Task<bool> BootstrapAsync(ReplicaBootstrap bootstrap);

    /// <summary>Drops this replica's data on this silo (the log was deleted) and deactivates (internal).</summary>
    [Alias("DeleteAsync")]
    Task DeleteAsync();
}
