using System.Collections.Concurrent;

namespace Pyralog.Grains.Replication;

/// <summary>
/// Replicas whose activation on this silo Orleans ended only because a dead silo held their grain-directory entry
/// (<see cref="DeactivationReasonCode.DirectoryFailure"/>): their data, and the incarnation their group counts, stay
/// here. For <see cref="ReturnWithin"/> the placement director puts such a replica's next activation back on this silo
/// (ReplicaPlacementDirector), and the replica asks for that activation itself as it deactivates (ReplicaGrain).
/// </summary>
/// <remarks>
/// Why: placement alone would send a stand-in (a replica running away from its home silo while that was down) home as
/// soon as its home silo is back, and there it reopens older data under its older incarnation, which its group's
/// configuration no longer names. Its group is a voter short until that incarnation rejoins, which needs a leader; if
/// another voter is lost meanwhile (the silo whose death deactivated the stand-in often held one), the group has no
/// majority for good, since its configuration names the stand-in, whose data nobody opens again. Back on this silo the
/// stand-in reopens its data under the incarnation its group counts, and goes home later through ReplicaHomecoming,
/// which lets a voter leave only while every other voter runs.
/// </remarks>
internal sealed class StrandedReplicas(TimeProvider time)
{
    /// <summary>How long placement keeps a stranded replica here: long enough for its siblings' next messages to re-place
    /// it, short enough that a later move or homecoming is placed by the rule again.</summary>
    public static readonly TimeSpan ReturnWithin = TimeSpan.FromSeconds(30);

    // Invariant: key → the TimeProvider timestamp at which the replica's activation here ended by a directory failure;
    // removed when it activates again (anywhere this silo hears of) or when found expired.
    private readonly ConcurrentDictionary<string, long> _since = new(StringComparer.Ordinal);

    public void Add(string key) => _since[key] = time.GetTimestamp();

    /// <summary>Whether the next activation of <paramref name="key"/> belongs on this silo.</summary>
    public bool ReturnsHere(string key)
    {
        if (!_since.TryGetValue(key, out var since))
        {
            return false;
        }

        if (time.GetElapsedTime(since) < ReturnWithin)
        {
            return true;
        }

        _since.TryRemove(new KeyValuePair<string, long>(key, since));
        return false;
    }

    /// <summary>Replica <paramref name="key"/> activated on this silo again: placement follows the rule from now on.</summary>
    public void Remove(string key) => _since.TryRemove(key, out _);
}
