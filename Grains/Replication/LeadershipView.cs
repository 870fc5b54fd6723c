using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/// <summary>
/// One round of leader balancing as one silo sees it: the groups it leads, and what every other active silo leads and
/// follows. Plans which of this silo's leaderships to hand to which follower (rules in <see cref="LeaderBalancing"/>).
/// </summary>
internal sealed class LeadershipView
{
    // Invariant: _otherLeaders[i] is how many groups other silo i leads; _followers[i] maps each group (log, partition)
    // with a follower at home on silo i to that follower's slot.
    private readonly int[] _otherLeaders;
    private readonly Dictionary<(ulong Log, int Partition), int>[] _followers;

    // Invariant: _draining[i] when an operator drains other silo i: it is never handed a leadership.
    private readonly bool[] _draining;

    /// <param name="leaders">The groups this silo leads (replica key, whether it is the metadata group's).</param>
    /// <param name="others">What every other active silo leads and follows.</param>
    /// <param name="draining">Whether an operator drains this silo: it hands over every leadership it can.</param>
    public LeadershipView(IReadOnlyList<(string Key, bool Metadata)> leaders, IReadOnlyList<SiloLeadership> others, bool draining = false)
    {
        ArgumentNullException.ThrowIfNull(leaders);
        ArgumentNullException.ThrowIfNull(others);

        Leaders = [.. leaders.OrderBy(l => l.Key, StringComparer.Ordinal)];
        _otherLeaders = new int[others.Count];
        _followers = new Dictionary<(ulong, int), int>[others.Count];
        _draining = new bool[others.Count];
        Draining = draining;
        var total = Leaders.Count;
        for (var i = 0; i < others.Count; i++)
        {
            _otherLeaders[i] = others[i].Leaders.Length;
            _draining[i] = others[i].Draining;
            total += _otherLeaders[i];
            _followers[i] = [];
            foreach (var key in others[i].Followers)
            {
                if (ReplicaGrainKey.TryParse(key, out var parsed))
                {
                    _followers[i][(parsed.Log, parsed.Partition)] = parsed.Replica;
                }
            }
        }

        Silos = others.Count + 1;
        Mean = (double)total / Silos;
    }

    /// <summary>Whether an operator drains this silo.</summary>
    public bool Draining { get; }

    /// <summary>The groups this silo leads, by key.</summary>
    public IReadOnlyList<(string Key, bool Metadata)> Leaders { get; }

    /// <summary>Active silos, this one included.</summary>
    public int Silos { get; }

    /// <summary>Leaderships per active silo.</summary>
    public double Mean { get; }

    /// <summary>
    /// Whether this silo leads two or more groups than some silo holding a follower of one of them (any group at all
    /// while it drains), that silo not draining.
    /// </summary>
    public bool CanHandOver()
    {
        for (var i = 0; i < _otherLeaders.Length; i++)
        {
            if (!_draining[i] && (Draining || Leaders.Count - _otherLeaders[i] >= 2) && FollowerOfMine(i, []) is not null)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Up to <paramref name="maxMoves"/> hand-overs, each of one of this silo's leaderships to a follower on a silo
    /// leading at least two fewer groups (counted as the plan goes), the least loaded first; towards one silo at most
    /// its share of its deficit below the mean among the silos that may hand to it. A draining silo hands every
    /// leadership it can, to the least loaded silos first; a draining silo is never a target.
    /// </summary>
    public List<(string Key, bool Metadata, int Replica)> PlanHandOvers(int maxMoves)
    {
        var plan = new List<(string, bool, int)>();
        var mine = Leaders.Count;
        var counts = (int[])_otherLeaders.Clone();
        var caps = new int[counts.Length];
        for (var i = 0; i < counts.Length; i++)
        {
            var senders = mine - counts[i] >= 2 ? 1 : 0;
            foreach (var other in _otherLeaders)
            {
                senders += other - counts[i] >= 2 ? 1 : 0;
            }

            caps[i] = Math.Max(1, (int)Math.Ceiling((Mean - counts[i]) / Math.Max(1, senders)));
        }

        var moved = new HashSet<string>(StringComparer.Ordinal);
        while (plan.Count < maxMoves)
        {
            var target = -1;
            (string Key, bool Metadata, int Replica)? pick = null;
            for (var i = 0; i < counts.Length; i++)
            {
                if (!_draining[i] && (Draining || (caps[i] > 0 && mine - counts[i] >= 2)) && (target < 0 || counts[i] < counts[target]) &&
                    FollowerOfMine(i, moved) is { } follower)
                {
                    target = i;
                    pick = follower;
                }
            }

            if (pick is not { } move)
            {
                break;
            }

            plan.Add(move);
            moved.Add(move.Key);
            mine--;
            counts[target]++;
            caps[target]--;
        }

        return plan;
    }

    /// <summary>The first of this silo's groups (not in <paramref name="moved"/>) with a follower on other silo <paramref name="silo"/>.</summary>
    private (string Key, bool Metadata, int Replica)? FollowerOfMine(int silo, HashSet<string> moved)
    {
        foreach (var (key, metadata) in Leaders)
        {
            if (!moved.Contains(key) && ReplicaGrainKey.TryParse(key, out var parsed) &&
                _followers[silo].TryGetValue((parsed.Log, parsed.Partition), out var replica))
            {
                return (key, metadata, replica);
            }
        }

        return null;
    }
}
