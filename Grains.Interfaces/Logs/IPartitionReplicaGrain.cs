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
    /// Appends an idempotent producer's batch at the leader (see <see cref="ProducerBatch"/>): like
    /// <see cref="AppendAsync"/>, except that a batch the partition already holds is answered with its original
    /// acknowledgement (<see cref="AppendAck.Duplicate"/>) instead of being appended again.
    /// </summary>
    /// <exception cref="ProducerSequenceException">The batch is out of its producer's sequence; nothing was appended.</exception>
    /// <exception cref="NotLeaderException">This replica does not lead; nothing was appended.</exception>
    /// <exception cref="ArgumentException">As for <see cref="AppendAsync"/>, or a producer id of 0 or a negative sequence; nothing was appended.</exception>
    [Alias("ProduceAsync")]
    Task<AppendAck> ProduceAsync(ProducerBatch batch);

    /// <summary>
    /// Like <see cref="ReadAsync"/> without linearizability, but at the committed end it waits up to
    /// <paramref name="maxWait"/> (at most 20 s, below Orleans' default response timeout) for records at <paramref name="fromOffset"/> instead of answering at
    /// once: a consumer at the end of the log long-polls instead of spinning. Returns an empty batch when none came.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The offset is below the first retained offset or beyond the committed end, or the wait is negative or over 20 s.</exception>
    [Alias("PollAsync")]
    Task<ReadBatch> PollAsync(ulong fromOffset, int maxBytes, TimeSpan maxWait);

    /// <summary>
    /// The offset of the first record this replica has applied whose <see cref="CommittedRecord.AppendTime"/> is at or
    /// after <paramref name="time"/>; the committed end when there is none yet (a consumer starting there sees the
    /// records appended from now on); the first retained offset when every retained record is at or after it.
    /// </summary>
    [Alias("FindOffsetAsync")]
    Task<ulong> FindOffsetAsync(DateTimeOffset time);

    /// <summary>
    /// Committed records from <paramref name="fromOffset"/>, up to about <paramref name="maxBytes"/> (at least one
    /// record when any is available). Any replica serves what it has applied; <paramref name="linearizable"/> asks the
    /// leader to confirm it still leads first, so the read reflects every append acknowledged before it began.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The offset is below the first retained offset (records before it were dropped by the
    /// log's retention; the message names the first available offset) or beyond the committed end (named in the message).</exception>
    /// <exception cref="NotLeaderException">A linearizable read reached a replica that does not lead.</exception>
    [Alias("ReadAsync")]
    Task<ReadBatch> ReadAsync(ulong fromOffset, int maxBytes, bool linearizable = false);

    /// <summary>Starts the group with the first configuration, if this replica is still empty and the configuration names its incarnation (creation, internal).</summary>
    [Alias("BootstrapAsync")]
    Task<bool> BootstrapAsync(ReplicaBootstrap bootstrap);

    /// <summary>Drops this replica's data on this silo (the log was deleted) and deactivates (internal).</summary>
    [Alias("DeleteAsync")]
    Task DeleteAsync();

    /// <summary>
    /// Leader: adds incarnation <paramref name="incarnation"/> of slot <paramref name="replica"/> as a learner promoted
    /// once caught up (replica moves, internal); null when done or proposed, else why not yet.
    /// </summary>
    /// <exception cref="NotLeaderException">This replica does not lead.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="replica"/> is not a slot (0 to 6) or <paramref name="incarnation"/> is 0 (no incarnation); nothing is proposed.</exception>
    [Alias("AddReplicaAsync")]
    Task<string?> AddReplicaAsync(int replica, long incarnation);

    /// <summary>
    /// Leader: removes slot <paramref name="replica"/> from the group, but only while slot <paramref name="keep"/> is a
    /// voter of it (replica moves, internal; a learner holds no complete copy yet); null when done or proposed, else why not yet or why not. A move removes one
    /// of its two slots keeping the other (the moved one keeping the new one, an abandon the other way round), checked in
    /// the same turn as the removal against the leader's latest configuration (committed or not; one change is pending
    /// at a time), so two runs of one move can never remove both. A leader asked to remove itself first hands its
    /// leadership to slot <paramref name="successor"/> when that is a voter (the replica taking its place; until it is
    /// caught up, the answer says the leader waits for it), else to its most caught-up voter (-1: the latter).
    /// </summary>
    /// <exception cref="NotLeaderException">This replica does not lead.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="replica"/> or <paramref name="keep"/> is not a slot (0 to 6), or they are the same slot.</exception>
    [Alias("RemoveReplicaKeepingAsync")]
    Task<string?> RemoveReplicaAsync(int replica, int successor, int keep);

    /// <summary>
    /// Leader: removes slot <paramref name="replica"/> from the group whatever else is a member, as the builds before the
    /// keep check did (replica moves, internal): their movers call it, and this build's below metadata version 2, while
    /// a partition's leader may still run an older build that lacks the call above.
    /// </summary>
    /// <exception cref="NotLeaderException">This replica does not lead.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="replica"/> is not a slot (0 to 6).</exception>
    [Alias("RemoveReplicaAsync")]
    Task<string?> RemoveReplicaAsync(int replica, int successor);

    /// <summary>
    /// Drops this replica's data and deactivates if it is no longer a slot of its partition (a move replaced it);
    /// returns whether it did (replica moves, internal).
    /// </summary>
    [Alias("RetireAsync")]
    Task<bool> RetireAsync();
}
