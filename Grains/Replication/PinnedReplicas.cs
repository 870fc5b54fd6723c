using System.Collections.Concurrent;

namespace Pyralog.Grains.Replication;

/// <summary>
/// Replicas whose next activation placed from this silo must go to one silo for a short while (<see cref="PinnedFor"/>),
/// whatever the placement rule says: the silo holding the data of the incarnation their group counts
/// (ReplicaPlacementDirector). Two cases pin a replica:
/// <list type="bullet">
/// <item><b>Stranded here.</b> Orleans ended the replica's activation on this silo only because a dead silo held its
/// grain-directory entry (<see cref="DeactivationReasonCode.DirectoryFailure"/>): its data, and the incarnation its group
/// counts, stay here, so it is pinned to this silo, and asks for that activation itself as it deactivates (ReplicaGrain).
/// Placement alone would send a stand-in (a replica running away from its home silo while that was down) home as soon as
/// its home silo is back, to older data under its older incarnation, which its group's configuration no longer names. Its
/// group is then a voter short until that incarnation rejoins, which needs a leader; if another voter is lost meanwhile
/// (the silo whose death deactivated the stand-in often held one), the group has no majority for good. Back on this silo
/// the stand-in reopens its data under the incarnation its group counts, and goes home later through ReplicaHomecoming,
/// which lets a voter leave only while every other voter runs.</item>
/// <item><b>Given way.</b> The replica ran here as an incarnation its leaderless group does not count, and gave way to
/// the one it names, whose data another silo holds (ReplicaGrain.GiveWay): it is pinned to that silo, where it reopens
/// the incarnation its group counts.</item>
/// </list>
/// </summary>
internal sealed class PinnedReplicas(TimeProvider time)
{
    /// <summary>How long a pin holds: long enough for the replica's siblings' next messages to re-place it, short enough
    /// that a later move or homecoming is placed by the rule again.</summary>
    public static readonly TimeSpan PinnedFor = TimeSpan.FromSeconds(30);

    // Invariant: key → (the silo its next activation goes to, the TimeProvider timestamp it was pinned at); removed when
    // the replica activates on this silo again, or when found past PinnedFor.
    private readonly ConcurrentDictionary<string, (SiloAddress Silo, long Since)> _pins = new(StringComparer.Ordinal);

    public void Pin(string key, SiloAddress silo) => _pins[key] = (silo, time.GetTimestamp());

    /// <summary>The silo the next activation of <paramref name="key"/> belongs on; null when it is not pinned.</summary>
    public SiloAddress? SiloOf(string key)
    {
        if (!_pins.TryGetValue(key, out var pin))
        {
            return null;
        }

        if (time.GetElapsedTime(pin.Since) < PinnedFor)
        {
            return pin.Silo;
        }

        _pins.TryRemove(new KeyValuePair<string, (SiloAddress, long)>(key, pin));
        return null;
    }

    /// <summary>Replica <paramref name="key"/> activated on this silo again: placement follows the rule from now on.</summary>
    public void Unpin(string key) => _pins.TryRemove(key, out _);
}
