using Pyralog.Grains.Interfaces.Logs;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Net;
using System.Text;
using Orleans.Runtime.Placement;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Placement;

/// <summary>
/// Places a Raft replica grain on its home: for a partition's replica, the silo the metadata group recorded for its
/// slot (<see cref="ReplicaHomes"/>); for the metadata group's own replicas, and for logs without recorded homes, the
/// silo its slot ranks first by rendezvous hashing over the silos.
/// </summary>
/// <remarks>
/// <para><b>Recorded homes.</b> When a log is created its homes are computed by the rule below over the active silos
/// and recorded in the metadata group; from then on only a replica move changes them. So a silo that joins changes no
/// replica's place (the rule alone would name it home for some replicas, whose data are elsewhere), and replicas
/// reach a joining silo only by moves. When a home silo is down the replica is placed, as below, on a live silo that
/// is no other slot's home, and returns home when its silo is back.</para>
/// <para><b>Rule.</b> Each silo gets a weight per slot, the XxHash64 (seed 0) of the bytes of (log, partition, slot,
/// silo endpoint). Slot 0 takes the silo with the highest weight for slot 0; slot r takes the highest-weight silo for
/// slot r among those slots 0..r−1 did not take; with n silos, slot r ≥ n shares slot (r mod n)'s silo. A slot depends
/// only on the slots below it, so the rule needs no replication factor (the key does not carry one): whatever RF a
/// group has, its replicas are on distinct silos whenever there are at least RF silos, and shared as evenly as
/// possible otherwise. XxHash64 is a fixed, specified function of bytes (unlike <see cref="string.GetHashCode()"/>,
/// randomized per process), so every silo computes the same placement from the same membership view. While views
/// differ, two silos can place one replica differently; the grain directory keeps one activation.</para>
/// <para><b>A silo is its endpoint.</b> The generation is left out of the weight: a restarted silo gets a new
/// generation but reopens the same data directory, so it must keep its rank. If two generations of one endpoint are
/// listed (the old one not yet declared dead), only the newest counts. This assumes an endpoint and its data directory
/// stay paired (fixed addresses, or a stateful set); a silo that comes back elsewhere is a new silo to placement.</para>
/// <para><b>Returning silos get their replicas back.</b> Placement is a pure function of the live silo set. When a
/// silo dies, each replica it held is placed, at its next activation, on its slot's next-ranked surviving silo; there
/// it has none of its slot's data and rejoins its group as a new incarnation (the Raft core catches it up). Once the
/// silo is back at the same endpoint, and membership is otherwise as before, the live set is the one the replica was
/// first placed with, so a replica activated from then on is placed on the silo that holds its data, however many
/// silos failed and in whatever order they returned. Orleans places only new activations, so a replacement would stay
/// on the survivor (beside a sibling: a second failure of that silo would then take a majority); ReplicaHomecoming
/// migrates it, and Orleans asks this director where to, which names the home.</para>
/// <para><b>Survivors mostly keep their place.</b> Replicas on surviving silos keep their activations (see above),
/// and a surviving slot's placement changes only if a lower slot's replacement takes its silo (12% of survivors with
/// six silos and three replicas, per the tests). No rule that sees only the live set can keep every survivor's place
/// after every failure while keeping replicas distinct: each slot would need a fixed order of silos, with the slots'
/// first picks different on every set of silos, and three such orders do not exist beyond six silos. Giving slot r
/// the silo ranked r for the whole group does worse: a failure shifts every slot above the dead silo's one rank down
/// (exactly half of the survivors in that setting), and unless the dead silo held the last slot, its replica's
/// replacement lands on a silo that still holds a live sibling.</para>
/// <para><b>Pinned replicas go to their data.</b> A replica whose activation Orleans ended only because a dead silo held
/// its directory entry is placed, for a short while, back on the silo that holds its data and ran it: a stand-in among
/// them would otherwise go home to older data under an incarnation its group no longer counts. Likewise a replica that
/// gave way to the incarnation its leaderless group names goes, for a short while, to the silo holding that incarnation's
/// data (<see cref="PinnedReplicas"/>).</para>
/// <para>Placement hints (request context, migration) are ignored: where a replica belongs is decided by the rule
/// alone (and the pinned replicas above). Activating a grain with this placement under a key that is not a <see cref="ReplicaGrainKey"/> fails.</para>
/// </remarks>
public sealed class ReplicaPlacementDirector(IClusterMembershipService membership, IServiceProvider services) : IPlacementDirector
{
    private readonly ReplicaHomeTable? _homes = services.GetService(typeof(ReplicaHomeTable)) as ReplicaHomeTable;
    private readonly PinnedReplicas? _pins = services.GetService(typeof(PinnedReplicas)) as PinnedReplicas;
    // The metadata group's size (log 0 follows the rule, and its stand-ins must keep clear of every sibling's home).
    private readonly int _metadataReplicas =
        (services.GetService(typeof(Microsoft.Extensions.Options.IOptions<Hosting.PyralogOptions>)) as Microsoft.Extensions.Options.IOptions<Hosting.PyralogOptions>)?.Value.MetadataReplicas ?? 3;

    /// <inheritdoc />
    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var grainKey = target.GrainIdentity.Key.ToString();
        if (!ReplicaGrainKey.TryParse(grainKey, out var key))
        {
            throw new ArgumentException(
                $"Grain {target.GrainIdentity} uses {nameof(ReplicaPlacement)} but its key is not \"{{log}}/{{partition}}/{{replica}}\".",
                nameof(target));
        }

        var live = context.GetCompatibleSilos(target);

        // A replica stranded here by a directory failure, or one that gave way here to the incarnation its leaderless
        // group counts, goes to the data of the incarnation its group counts, whatever the rule says (see PinnedReplicas).
        if (_pins?.SiloOf(grainKey) is { } pinned && live.Contains(pinned))
        {
            return pinned;
        }

        // A partition's replicas live where the metadata group recorded their homes; the metadata group's own
        // replicas (log 0) cannot ask it, and follow the rule.
        if (key.Log != 0 && _homes is not null && await _homes.GetAsync(key.Log, key.Partition, key.Replica, Replication.ReplicaTiming.HomesWait) is { } homes &&
            key.Partition < homes.Partitions)
        {
            // A slot without a home (moved away, or a move not heard of yet) gets no activation anywhere: one would start
            // afresh under a new incarnation outside its group.
            if (homes.Home(key.Partition, key.Replica) is null)
            {
                throw new InvalidOperationException($"replica {key} is not part of its partition any more (it was moved away) or not yet (a move is starting)");
            }

            return Place(key, homes, live);
        }

        var known = new List<SiloAddress>(live);
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            known.Add(member.SiloAddress);
        }

        return Place(key, live, known, key.Log == 0 ? _metadataReplicas : 3);
    }

    /// <summary>
    /// The silo for <paramref name="key"/>'s replica by its recorded home: that silo when it is live; otherwise the live
    /// silo the slot ranks first among those that are neither the home of another slot of the partition nor the stand-in
    /// silo of a lower slot whose home is down too (then among those no other slot's home, then any), so a replica whose
    /// silo is down does not push a live sibling off the silo that holds the sibling's data, and two stand-ins share a
    /// silo only when no other is left.
    /// </summary>
    public static SiloAddress Place(ReplicaGrainKey key, ReplicaHomes homes, IReadOnlyCollection<SiloAddress> live)
    {
        var candidates = Candidates(live);
        if (LiveHome(candidates, homes.Home(key.Partition, key.Replica)) is { } own)
        {
            return own;
        }

        // Down slots take stand-ins in slot order, each clear of the lower ones' (every silo computes the same order):
        // two stand-ins on one silo would be two voters lost with it.
        var standIns = new HashSet<string>(StringComparer.Ordinal);
        for (var slot = 0; slot < key.Replica; slot++)
        {
            if (homes.Home(key.Partition, slot) is { } home && LiveHome(candidates, home) is null)
            {
                standIns.Add(StandIn(new ReplicaGrainKey(key.Log, key.Partition, slot), homes, candidates, standIns).Endpoint.ToString());
            }
        }

        return StandIn(key, homes, candidates, standIns);
    }

    private static SiloAddress? LiveHome((SiloAddress Silo, byte[] Endpoint)[] candidates, string? home)
    {
        foreach (var c in candidates)
        {
            if (c.Silo.Endpoint.ToString() == home)
            {
                return c.Silo;
            }
        }

        return null;
    }

    private static SiloAddress StandIn(ReplicaGrainKey key, ReplicaHomes homes, (SiloAddress Silo, byte[] Endpoint)[] candidates, HashSet<string> lowerStandIns)
    {
        var siblings = new HashSet<string>(StringComparer.Ordinal);
        for (var slot = 0; slot < ReplicaGrainKey.MaxReplicationFactor; slot++)
        {
            if (slot != key.Replica && homes.Home(key.Partition, slot) is { } home)
            {
                siblings.Add(home);
            }
        }

        return Best(key, candidates, c => !siblings.Contains(c.Silo.Endpoint.ToString()) && !lowerStandIns.Contains(c.Silo.Endpoint.ToString()))
            ?? Best(key, candidates, c => !siblings.Contains(c.Silo.Endpoint.ToString()))
            ?? Best(key, candidates, _ => true)!;
    }

    /// <summary>
    /// The silo for <paramref name="key"/>'s replica when some silos of the cluster are gone: its home — where the rule
    /// puts it over every silo the cluster knows, <paramref name="known"/>, dead or alive — if that silo is live, since
    /// that is where its data is; otherwise the live silo its slot ranks first among those that are no other slot's
    /// home among the lower slots and the first <paramref name="groupSize"/>, and no stand-in silo of a lower slot whose
    /// home is down too (then without the stand-ins, then among those no lower slot's home, then any). A replica whose
    /// silo died thus moves without pushing a live sibling off the silo that holds the sibling's data: after a directory
    /// entry is lost with a dead silo, Orleans re-places the sibling's next activation by this rule, and it must land
    /// where its data is. Two stand-ins share a silo only when no other is left.
    /// </summary>
    public static SiloAddress Place(ReplicaGrainKey key, IReadOnlyCollection<SiloAddress> live, IReadOnlyCollection<SiloAddress> known, int groupSize = 3)
    {
        var candidates = Candidates(live);
        var homes = Homes(key, known.Concat(live).ToArray());
        var own = homes[key.Replica].Endpoint;
        foreach (var c in candidates)
        {
            if (c.Silo.Endpoint.Equals(own))
            {
                return c.Silo;
            }
        }

        // Down slots take stand-ins in slot order, each clear of the lower ones' (every silo computes the same order):
        // two stand-ins on one silo would be two voters lost with it.
        var standIns = new HashSet<IPEndPoint>();
        for (var slot = 0; slot < key.Replica; slot++)
        {
            if (!IsLive(candidates, homes[slot]))
            {
                standIns.Add(StandIn(new ReplicaGrainKey(key.Log, key.Partition, slot), homes, candidates, groupSize, standIns).Endpoint);
            }
        }

        return StandIn(key, homes, candidates, groupSize, standIns);
    }

    private static bool IsLive((SiloAddress Silo, byte[] Endpoint)[] candidates, SiloAddress home) =>
        candidates.Any(c => c.Silo.Endpoint.Equals(home.Endpoint));

    private static SiloAddress StandIn(
        ReplicaGrainKey key, SiloAddress[] homes, (SiloAddress Silo, byte[] Endpoint)[] candidates, int groupSize, HashSet<IPEndPoint> lowerStandIns)
    {
        // The key does not say the group's size (the caller may: the metadata group's): keep clear of the homes of the
        // lower slots and of the group's first groupSize slots, then of the lower slots' only.
        var otherHomes = homes.Where((_, slot) => slot != key.Replica && slot < Math.Max(groupSize, key.Replica)).Select(h => h.Endpoint).ToHashSet();
        var lowerHomes = homes.Take(key.Replica).Select(h => h.Endpoint).ToHashSet();
        return Best(key, candidates, c => !otherHomes.Contains(c.Silo.Endpoint) && !lowerStandIns.Contains(c.Silo.Endpoint))
            ?? Best(key, candidates, c => !otherHomes.Contains(c.Silo.Endpoint))
            ?? Best(key, candidates, c => !lowerHomes.Contains(c.Silo.Endpoint))
            ?? Best(key, candidates, _ => true)!;
    }

    /// <summary>
    /// Where replica <paramref name="key"/>'s data is: the silo the rule gives its slot over every silo the cluster knows,
    /// <paramref name="known"/>, dead or alive (one per endpoint, the newest generation).
    /// </summary>
    public static SiloAddress Home(ReplicaGrainKey key, IReadOnlyCollection<SiloAddress> known) => Homes(key, known)[key.Replica];

    private static SiloAddress[] Homes(ReplicaGrainKey key, IReadOnlyCollection<SiloAddress> known) =>
        PlaceGroup(key.Log, key.Partition, ReplicaGrainKey.MaxReplicationFactor, Candidates(known).Select(c => c.Silo).ToArray());

    private static SiloAddress? Best(ReplicaGrainKey key, (SiloAddress Silo, byte[] Endpoint)[] candidates, Func<(SiloAddress Silo, byte[] Endpoint), bool> allowed)
    {
        SiloAddress? best = null;
        var bestWeight = 0UL;
        foreach (var c in candidates)
        {
            var weight = Weight(key.Log, key.Partition, key.Replica, c.Endpoint);
            if (allowed(c) && (best is null || weight > bestWeight))
            {
                best = c.Silo;
                bestWeight = weight;
            }
        }

        return best;
    }

    /// <summary>The silo <paramref name="key"/>'s replica belongs on, given the live silos (in any order).</summary>
    public static SiloAddress Place(ReplicaGrainKey key, IReadOnlyCollection<SiloAddress> silos)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(key.Replica, nameof(key));
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(key.Replica, ReplicaGrainKey.MaxReplicationFactor, nameof(key));
        return PlaceGroup(key.Log, key.Partition, key.Replica + 1, silos)[key.Replica];
    }

    /// <summary>
    /// The silos of slots 0..<paramref name="replicationFactor"/>−1 of group (<paramref name="log"/>,
    /// <paramref name="partition"/>), given the live silos (in any order); distinct whenever there are enough silos.
    /// </summary>
    public static SiloAddress[] PlaceGroup(ulong log, int partition, int replicationFactor, IReadOnlyCollection<SiloAddress> silos)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(replicationFactor);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(replicationFactor, ReplicaGrainKey.MaxReplicationFactor);
        var candidates = Candidates(silos);
        var placed = new SiloAddress[replicationFactor];
        var taken = new bool[candidates.Length];
        for (var slot = 0; slot < Math.Min(replicationFactor, candidates.Length); slot++)
        {
            var best = -1;
            var bestWeight = 0UL;
            for (var i = 0; i < candidates.Length; i++)
            {
                var weight = Weight(log, partition, slot, candidates[i].Endpoint);
                // Candidates are sorted by endpoint, so on equal weights the lower endpoint wins everywhere alike.
                if (!taken[i] && (best < 0 || weight > bestWeight))
                {
                    best = i;
                    bestWeight = weight;
                }
            }

            taken[best] = true;
            placed[slot] = candidates[best].Silo;
        }

        for (var slot = candidates.Length; slot < replicationFactor; slot++)
        {
            placed[slot] = placed[slot % candidates.Length];
        }

        return placed;
    }

    /// <summary>
    /// Whether a group of <paramref name="replicationFactor"/> replicas must put two replicas on one silo, because there
    /// are fewer live silos (counted by endpoint) than replicas.
    /// </summary>
    public static bool SharesSilo(int replicationFactor, IReadOnlyCollection<SiloAddress> silos)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(replicationFactor);
        return Candidates(silos).Length < replicationFactor;
    }

    private static (SiloAddress Silo, byte[] Endpoint)[] Candidates(IReadOnlyCollection<SiloAddress> silos)
    {
        ArgumentNullException.ThrowIfNull(silos);
        if (silos.Count == 0)
        {
            throw new ArgumentException("There is no silo to place a replica on.", nameof(silos));
        }

        return silos
            .GroupBy(s => s.Endpoint)
            .Select(g => g.MaxBy(s => s.Generation)!)
            .Select(s => (Silo: s, Endpoint: Encoding.UTF8.GetBytes(s.Endpoint.ToString())))
            .OrderBy(c => c.Endpoint, Comparer<byte[]>.Create((a, b) => a.AsSpan().SequenceCompareTo(b)))
            .ToArray();
    }

    private static ulong Weight(ulong log, int partition, int slot, byte[] endpoint)
    {
        Span<byte> input = stackalloc byte[16 + endpoint.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(input, log);
        BinaryPrimitives.WriteInt32LittleEndian(input[8..], partition);
        BinaryPrimitives.WriteInt32LittleEndian(input[12..], slot);
        endpoint.CopyTo(input[16..]);
        return XxHash64.HashToUInt64(input);
    }
}
