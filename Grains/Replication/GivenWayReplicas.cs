using System.Collections.Concurrent;

namespace Pyralog.Grains.Replication;

/// <summary>
/// Replicas that gave way on this silo to the incarnation their leaderless group names for their slot, whose data another
/// silo holds (ReplicaGrain.GiveWay): for <see cref="StrandedReplicas.ReturnWithin"/> the placement director sends the
/// replica's next activation placed from here (its migration) to that silo, where it reopens the incarnation its group
/// counts (ReplicaPlacementDirector).
/// </summary>
internal sealed class GivenWayReplicas(TimeProvider time)
{
    // Invariant: key → (the silo holding the named incarnation's data, the TimeProvider timestamp it gave way at); an
    // entry past StrandedReplicas.ReturnWithin is removed when found.
    private readonly ConcurrentDictionary<string, (SiloAddress Silo, long Since)> _to = new(StringComparer.Ordinal);

    public void Add(string key, SiloAddress silo) => _to[key] = (silo, time.GetTimestamp());

    /// <summary>The silo the next activation of <paramref name="key"/> belongs on; null when it gave way to none lately.</summary>
    public SiloAddress? Target(string key)
    {
        if (!_to.TryGetValue(key, out var entry))
        {
            return null;
        }

        if (time.GetElapsedTime(entry.Since) < StrandedReplicas.ReturnWithin)
        {
            return entry.Silo;
        }

        _to.TryRemove(new KeyValuePair<string, (SiloAddress, long)>(key, entry));
        return null;
    }
}
