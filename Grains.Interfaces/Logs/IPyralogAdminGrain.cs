namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// Creates, lists, describes and deletes logs (key 0). Every change is committed in the metadata group (a Raft group
/// of its own) before it is answered.
/// </summary>
[Alias("pyralog.IPyralogAdminGrain")]
public interface IPyralogAdminGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Creates a log of <paramref name="partitions"/> partitions (1..65536), each a Raft group of
    /// <paramref name="replicationFactor"/> replicas (1..7) on distinct silos where there are enough silos. Completes
    /// once every partition has a bootstrapped group. Creating a log that exists with the same shape returns it (a retry
    /// finishes an interrupted creation); with another shape it fails naming the difference.
    /// </summary>
    [Alias("CreateLogAsync")]
    Task<LogInfo> CreateLogAsync(string name, int partitions, int replicationFactor, LogSettings? settings = null);

    /// <summary>Deletes a log: removed from the metadata first, then each replica drops its data.</summary>
    /// <exception cref="InvalidOperationException">No log has that name.</exception>
    [Alias("DeleteLogAsync")]
    Task DeleteLogAsync(string name);

    [Alias("ListLogsAsync")]
    Task<LogInfo[]> ListLogsAsync();

    /// <summary>The log, or null when no log has that name.</summary>
    [Alias("GetLogAsync")]
    Task<LogInfo?> GetLogAsync(string name);

    /// <summary>Per partition: leader, epoch, offsets, replicas with their silo, role and lag.</summary>
    /// <exception cref="InvalidOperationException">No log has that name.</exception>
    [Alias("DescribeLogAsync")]
    Task<LogDescription> DescribeLogAsync(string name);

    /// <summary>
    /// The metadata group as its replicas report it, in a partition's shape (partition 0; offsets are its entries):
    /// leader, replicas with their silo and role (a replica still catching up after it rejoined is a learner). Answers
    /// while the group has no leader (LeaderReplica −1), since it asks each replica, not the group.
    /// </summary>
    [Alias("DescribeMetadataGroupAsync")]
    Task<PartitionDescription> DescribeMetadataGroupAsync();

    /// <summary>
    /// Starts (<paramref name="drain"/> true) or ends an operator's drain of an active silo, named by its full address,
    /// its endpoint (<c>127.0.0.1:11111</c>) or its name: while draining it hands off the leadership of every replica it
    /// hosts and leader balancing gives it none, and replica moves take its replicas to other silos (each keeps
    /// replicating until its replacement votes), so it can be stopped without an election or a lost replica. Starting
    /// waits until its leaderships moved (bounded by the drain timeout). Restarting the silo ends it.
    /// </summary>
    /// <exception cref="ArgumentException">No active silo, or more than one, goes by that name.</exception>
    [Alias("DrainSiloAsync")]
    [ResponseTimeout("00:11:00")] // the drain timeout goes up to 10 min, past Orleans' 30 s default
    Task<SiloDrainResult> DrainSiloAsync(string silo, bool drain);

    /// <summary>The full addresses of the active silos an operator drains (<see cref="DrainSiloAsync"/>); a silo that does not answer is left out.</summary>
    [Alias("DrainingSilosAsync")]
    Task<string[]> DrainingSilosAsync();

    /// <summary>
    /// The full addresses of the active silos an operator drains (<see cref="DrainSiloAsync"/>), and of those that did
    /// not answer in time, so a caller can tell a silo that serves from one it could not ask.
    /// </summary>
    [Alias("DrainStatesAsync")]
    Task<SiloDrainStates> DrainStatesAsync();
}
