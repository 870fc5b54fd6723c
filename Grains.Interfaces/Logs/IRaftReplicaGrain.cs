using Orleans.Concurrency;

namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>What every Raft replica grain answers (a partition's or the metadata group's), keyed by a <see cref="ReplicaGrainKey"/>.</summary>
[Alias("pyralog.IRaftReplicaGrain")]
public interface IRaftReplicaGrain : IGrainWithStringKey
{
    /// <summary>Role, term, epoch, indexes and offsets of this replica.</summary>
    [Alias("GetStatusAsync")]
    Task<ReplicaStatus> GetStatusAsync();

    /// <summary>Raft messages from another replica of the group (replication internal).</summary>
    [OneWay]
    [Alias("DeliverAsync")]
    Task DeliverAsync(RaftEnvelope envelope);

    /// <summary>
    /// The same as <see cref="DeliverAsync"/>, answered: a replica sends about one envelope a second to each sibling this
    /// way, so that when Orleans re-activated the sibling elsewhere (after a silo died) the rejected call makes the runtime
    /// find the new activation, where one-way messages to the old address would be dropped silently (internal).
    /// </summary>
    [Alias("DeliverConfirmedAsync")]
    Task DeliverConfirmedAsync(RaftEnvelope envelope);

    /// <summary>Activates the replica and returns its incarnation (recording a new one first if it has no data) and whether it holds a Raft log (creation, internal).</summary>
    [Alias("PrepareAsync")]
    Task<ReplicaPrepared> PrepareAsync();

    /// <summary>
    /// Leader: hands leadership to replica slot <paramref name="replica"/> of the group if that replica is a live voter
    /// holding every committed entry; returns whether the transfer started (leader balancing, internal).
    /// </summary>
    [Alias("HandLeadershipToAsync")]
    Task<bool> HandLeadershipToAsync(int replica);

    /// <summary>
    /// Leader: whether voter replica slot <paramref name="replica"/> may stop for a while (it moves to its home silo)
    /// without leaving the group short of a majority: every other voter is live and holds every committed entry. False
    /// when this replica does not lead (internal).
    /// </summary>
    [Alias("MayLeaveAsync")]
    Task<bool> MayLeaveAsync(int replica);

    /// <summary>
    /// Asks a replica running away from the silo that holds its data to move back there once it can leave without
    /// costing its group a majority (a leader hands its leadership over first); nothing happens at home (internal).
    /// </summary>
    [OneWay]
    [Alias("ReturnHomeAsync")]
    Task ReturnHomeAsync();
}
