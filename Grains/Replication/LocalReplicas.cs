using System.Collections.Concurrent;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Placement;

namespace Pyralog.Grains.Replication;

/// <summary>
/// The replica grains active on this silo, for the silo-wide watchers that wake them (<see cref="ReplicaWakeups"/>)
/// or send them home (<see cref="ReplicaHomecoming"/>), and where each replica's home is.
/// </summary>
internal sealed class LocalReplicas(IClusterMembershipService membership, ILocalSiloDetails silo, IGrainFactory grains, ReplicaHomeTable homes)
{
    // Invariant: exactly the replica grains whose activation on this silo has opened its storage and not yet
    // deactivated; key → true for the metadata group's.
    private readonly ConcurrentDictionary<string, bool> _active = new(StringComparer.Ordinal);

    // Invariant: the keys of the replicas above that lead their group (as their drivers last said).
    private readonly ConcurrentDictionary<string, bool> _leading = new(StringComparer.Ordinal);

    private long _additions;

    // Invariant: completed by the next Add, then replaced by a fresh one.
    private TaskCompletionSource _added = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Keeps activations here and drops of leftover replica data apart (see <see cref="ReplicaDataGate"/>).</summary>
    public ReplicaDataGate DataGate { get; } = new();

    public void Add(string key, bool metadata)
    {
        _active[key] = metadata;
        Interlocked.Increment(ref _additions);
        Interlocked.Exchange(ref _added, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Completes at the next <see cref="Add"/> (for a watcher that sleeps until a replica activates here).</summary>
    public Task NextAddition => Volatile.Read(ref _added).Task;

    /// <summary>How many activations were added so far: a watcher that saw a smaller number has new replicas to check.</summary>
    public long Additions => Interlocked.Read(ref _additions);

    public void Remove(string key)
    {
        _active.TryRemove(key, out _);
        _leading.TryRemove(key, out _);
    }

    /// <summary>Replica <paramref name="key"/> started or stopped leading its group.</summary>
    public void SetLeading(string key, bool leads)
    {
        if (leads)
        {
            _leading[key] = true;
        }
        else
        {
            _leading.TryRemove(key, out _);
        }
    }

    /// <summary>How many replicas active here lead their group.</summary>
    public int LeaderCount()
    {
        var count = 0;
        foreach (var (key, _) in _leading)
        {
            count += _active.ContainsKey(key) ? 1 : 0;
        }

        return count;
    }

    /// <summary>Whether replica <paramref name="key"/>, active here, leads its group.</summary>
    public bool Leads(string key) => _leading.ContainsKey(key) && _active.ContainsKey(key);

    /// <summary>Whether a metadata replica active here leads the metadata group (the silo whose services act for the whole cluster).</summary>
    public bool LeadsMetadataGroup()
    {
        foreach (var (key, metadata) in _active)
        {
            if (metadata && Leads(key))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The replicas active here (a moment's view: activations come and go while it is read).</summary>
    public IEnumerable<KeyValuePair<string, bool>> Active => _active;

    public IRaftReplicaGrain Grain(string key, bool metadata) => metadata
        ? grains.GetGrain<IMetadataReplicaGrain>(key)
        : grains.GetGrain<IPartitionReplicaGrain>(key);

    /// <summary>
    /// Whether replica <paramref name="key"/> of a partition is no longer a slot of its partition: the metadata group
    /// records homes for its log and none for its slot (a replica move removed it from its group). Asks the metadata
    /// group when this silo's copy says so, since a move may have added the slot since, and always when
    /// <paramref name="fresh"/>.
    /// </summary>
    public async Task<bool> IsRetiredAsync(ReplicaGrainKey key, bool fresh = false)
    {
        if (key.Log == 0)
        {
            return false;
        }

        if (fresh)
        {
            // The caller is about to drop data: only the metadata group's answer counts, never this silo's copy.
            var current = await homes.ReadNowAsync(key.Log).WaitAsync(ReplicaTiming.HomesWait);
            return current is not null && key.Partition < current.Partitions && current.Home(key.Partition, key.Replica) is null;
        }

        if (homes.TryGet(key.Log, out var known) && (known.Home(key.Partition, key.Replica) is not null || key.Partition >= known.Partitions))
        {
            return false;
        }

        var read = await homes.GetAsync(key.Log, key.Partition, key.Replica, ReplicaTiming.HomesWait);
        return read is not null && key.Partition < read.Partitions && read.Home(key.Partition, key.Replica) is null;
    }

    /// <summary>
    /// For a replica about to start without data here: the active silo other than this one that homes it, or null (homed
    /// here, no home, or its home is not active). Orleans activates a grain wherever a caller's directory cache points
    /// when no activation is registered, without asking placement: a caller that last reached the slot's previous
    /// replica here (before it moved away) would start the slot's new replica here instead of on its new home. A table
    /// that does not home it here is refreshed from the metadata leader before it answers; when that read fails (the
    /// metadata group is electing) the answer is null, so a stand-in for a lost silo's replica never waits on it.
    /// </summary>
    public async Task<SiloAddress?> HomeElsewhereOfNewcomerAsync(ReplicaGrainKey key)
    {
        if (key.Log == 0)
        {
            return null;
        }

        if (homes.TryGet(key.Log, out var known) && known.Home(key.Partition, key.Replica) == silo.SiloAddress.Endpoint.ToString())
        {
            return null;
        }

        try
        {
            await homes.RefreshAsync().WaitAsync(ReplicaTiming.HomesWait);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException or InvalidOperationException)
        {
            return null;
        }

        return homes.TryGet(key.Log, out var fresh) && fresh.Home(key.Partition, key.Replica) is not null
            ? LiveHomeElsewhere(key, membership.CurrentSnapshot)
            : null;
    }

    /// <summary>
    /// Where replica <paramref name="key"/>, active here, should run instead: its home silo when that is active (see
    /// <see cref="LiveHomeElsewhere"/>); else, while it stands in here beside
    /// a sibling of its partition, the live silo placement picks among those that are no other slot's home, when that is
    /// another silo. Null when it should stay.
    /// </summary>
    /// <remarks>
    /// A stand-in lands beside a sibling when placement read homes that a move was changing (both the old and the new
    /// slot homed) and found no free silo; left there it would stay, since re-homing never homes two slots on one silo.
    /// </remarks>
    public SiloAddress? BetterSiloElsewhere(ReplicaGrainKey key) => BetterSiloElsewhere(key, membership.CurrentSnapshot);

    /// <inheritdoc cref="BetterSiloElsewhere(ReplicaGrainKey)"/>
    public SiloAddress? BetterSiloElsewhere(ReplicaGrainKey key, ClusterMembershipSnapshot snapshot) =>
        LiveHomeElsewhere(key, snapshot) ?? (SiblingActive(key) ? StandInElsewhere(key, snapshot) : null);

    /// <summary>Whether another replica of <paramref name="key"/>'s partition is active on this silo.</summary>
    public bool SiblingActive(ReplicaGrainKey key)
    {
        foreach (var _ in SiblingsActive(key))
        {
            return true;
        }

        return false;
    }

    /// <summary>
    /// The other replicas of <paramref name="key"/>'s partition active on this silo, with whether each is the metadata
    /// group's. Looks up the partition's few possible slots by key rather than scanning every active replica: the
    /// homecoming sweep asks for each replica here, and a scan made the sweep quadratic (1,000 replicas a silo: a
    /// million key parses, a fifth of an idle silo's CPU).
    /// </summary>
    public IEnumerable<(string Key, bool Metadata)> SiblingsActive(ReplicaGrainKey key)
    {
        for (var slot = 0; slot < ReplicaGrainKey.MaxReplicationFactor; slot++)
        {
            if (slot == key.Replica)
            {
                continue;
            }

            var sibling = ReplicaGrainKey.Of(key.Log, key.Partition, slot);
            if (_active.TryGetValue(sibling, out var metadata))
            {
                yield return (sibling, metadata);
            }
        }
    }

    private SiloAddress? StandInElsewhere(ReplicaGrainKey key, ClusterMembershipSnapshot snapshot)
    {
        if (key.Log == 0 || !homes.TryGet(key.Log, out var logHomes) || key.Partition >= logHomes.Partitions ||
            logHomes.Home(key.Partition, key.Replica) is not { } home)
        {
            return null;
        }

        var live = new List<SiloAddress>(snapshot.Members.Count);
        foreach (var member in snapshot.Members.Values)
        {
            if (member.Status == SiloStatus.Active)
            {
                if (member.SiloAddress.Endpoint.ToString() == home)
                {
                    return null; // home is live: LiveHomeElsewhere's case
                }

                live.Add(member.SiloAddress);
            }
        }

        if (live.Count == 0)
        {
            return null;
        }

        var target = ReplicaPlacementDirector.Place(key, logHomes, live);
        return target.Equals(silo.SiloAddress) || logHomes.SlotOn(key.Partition, target.Endpoint.ToString()) >= 0 ? null : target;
    }

    /// <summary>
    /// The silo that holds the data of replica <paramref name="key"/> (its recorded home, <see cref="ReplicaHomes"/>; by
    /// <see cref="ReplicaPlacementDirector.Home"/> for the metadata group and logs without recorded homes) when that
    /// silo is active and is not this one; null when the replica is home here, its home is down, or it has none.
    /// </summary>
    public SiloAddress? LiveHomeElsewhere(ReplicaGrainKey key, ClusterMembershipSnapshot snapshot)
    {
        string? recorded = null;
        if (key.Log != 0 && homes.TryGet(key.Log, out var logHomes))
        {
            recorded = logHomes.Home(key.Partition, key.Replica);
            if (recorded is null)
            {
                return null; // no longer a slot of its partition (moved away): it has no home to go to
            }
        }

        SiloAddress? home = null;
        if (recorded is null)
        {
            var known = new List<SiloAddress>(snapshot.Members.Count);
            foreach (var member in snapshot.Members.Values)
            {
                known.Add(member.SiloAddress);
            }

            home = ReplicaPlacementDirector.Home(key, known);
            if (home.Endpoint.Equals(silo.SiloAddress.Endpoint))
            {
                return null;
            }
        }
        else if (recorded == silo.SiloAddress.Endpoint.ToString())
        {
            return null;
        }

        SiloAddress? newest = null;
        foreach (var member in snapshot.Members.Values)
        {
            var at = member.SiloAddress;
            if (member.Status == SiloStatus.Active && (home is null ? at.Endpoint.ToString() == recorded : at.Equals(home)) &&
                (newest is null || at.Generation > newest.Generation))
            {
                newest = at;
            }
        }

        return newest;
    }
}
