using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/// <summary>
/// A log as a client last read it from the metadata group, and per partition the replica slot believed to lead
/// (a hint: a wrong one costs one NotLeader redirect). Refreshing the same log keeps the leader hints.
/// </summary>
internal sealed class CachedLog
{
    // Invariant: one slot per partition, a slot of that partition in the newest Info sharing the array or one a leader
    // named since (refreshes of one log share it, so every holder sees the latest hint); read and written with Volatile.
    private readonly int[] _leaders;

    // When a caller last looked the log up (a TimeProvider timestamp, at most about a second stale); read and written
    // with Volatile.
    private long _usedAt;

    public CachedLog(LogInfo info, long fetchedAt)
        : this(info, fetchedAt, new int[info.Partitions], fetchedAt)
    {
    }

    private CachedLog(LogInfo info, long fetchedAt, int[] leaders, long usedAt)
    {
        Info = info;
        FetchedAt = fetchedAt;
        _leaders = leaders;
        _usedAt = usedAt;
        for (var p = 0; p < leaders.Length; p++)
        {
            // A hint survives a refresh while its slot still holds a replica (a moved replica's slot is gone).
            var hint = Volatile.Read(ref leaders[p]);
            if (!info.HasReplica(p, hint))
            {
                Interlocked.CompareExchange(ref leaders[p], info.NextReplica(p, -1), hint);
            }
        }
    }

    public LogInfo Info { get; }

    /// <summary>When it was read (a <see cref="TimeProvider"/> timestamp).</summary>
    public long FetchedAt { get; }

    /// <summary>When a caller last looked the log up (a <see cref="TimeProvider"/> timestamp).</summary>
    public long UsedAt => Volatile.Read(ref _usedAt);

    public CachedLog Refreshed(LogInfo info, long fetchedAt) =>
        info.Id == Info.Id && info.Partitions == Info.Partitions ? new CachedLog(info, fetchedAt, _leaders, UsedAt) : new CachedLog(info, fetchedAt, new int[info.Partitions], UsedAt);

    /// <summary>
    /// A caller looked the log up at <paramref name="now"/>. Written at most about once a second (<paramref name="frequency"/>
    /// ticks): every produced record looks its log up, and a write per record from every core would bounce the line.
    /// </summary>
    public void Used(long now, long frequency)
    {
        if (now - Volatile.Read(ref _usedAt) > frequency)
        {
            Volatile.Write(ref _usedAt, now);
        }
    }

    public int Leader(int partition) => Volatile.Read(ref _leaders[partition]);

    /// <summary>
    /// Follows a NotLeader hint: the grain key of the leader the replica named. The named slot may be newer than this
    /// cached log (a replica move added it, and the old leader handed its leadership to it): it is followed all the same,
    /// and false says the log should be read again.
    /// </summary>
    public bool FollowHint(int partition, string leaderKey)
    {
        var slot = SlotNamed(partition, leaderKey);
        if (slot < 0)
        {
            return true;
        }

        Volatile.Write(ref _leaders[partition], slot);
        return Info.HasReplica(partition, slot);
    }

    /// <summary>The slot a replica's grain key names in <paramref name="partition"/> of this log; -1 for another log or partition, or no key.</summary>
    public int SlotNamed(int partition, string replicaKey) =>
        ReplicaGrainKey.TryParse(replicaKey, out var key) && key.Log == Info.Id && key.Partition == partition ? key.Replica : -1;

    /// <summary>The replica in <paramref name="slot"/> did not answer: believe the next one leads (it redirects if not).</summary>
    public void Skip(int partition, int slot) =>
        Interlocked.CompareExchange(ref _leaders[partition], Info.NextReplica(partition, slot), slot);
}
