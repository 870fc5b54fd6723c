using System.Buffers.Binary;

namespace Pyralog.Consensus;

/// <summary>
/// An immutable group configuration: voters and learners, each a (replica id, incarnation) <see cref="Member"/>.
///
/// Membership changes are single-server changes (Ongaro's dissertation, §4.1): each new configuration differs from
/// the previous one by at most one voter, so any majority of the old and any majority of the new voter set share a
/// node and two leaders can never be elected in one term by disjoint quorums. A configuration takes effect as soon as
/// its entry is in a node's log (committed or not) and is rolled back if that entry is truncated. The leader
/// accepts a change only when (1) no earlier change is uncommitted and (2) it has committed an entry of its own term;
/// rule 2 is the published fix for the single-server bug where a stale leader's uncommitted change and a new
/// leader's change are each one step from a common ancestor but two steps from each other.
///
/// Incarnations: a voter counts (its vote, its replication acknowledgement, its read acknowledgement) only when the
/// incarnation in the message equals the incarnation the configuration records for that replica id. A replica that
/// lost its disk cannot vote as its old self (its old vote may be forgotten) because it returns with a new, larger
/// incarnation. Until the configuration says otherwise the configured incarnation alone counts. When the leader
/// hears from another incarnation and the configured one has been silent for an election timeout, it proposes
/// <see cref="ConfigChangeType.Rejoin"/>, which removes the configured incarnation from the voters and adds the other
/// one as an auto-promoting learner (one voter removed: a single-server change), and promotes it once it has the
/// whole committed log (one voter added). The other incarnation may be older: in Orleans a duplicate activation is
/// brief and either one may survive, and an incarnation always runs on its own disk (a node refuses another
/// incarnation's data), so an older one that comes back still holds its log and its votes and re-enters as any
/// removed replica would, as a learner first. Two live incarnations of one replica therefore never both count in
/// one configuration, and two configurations that name different incarnations as voters are two single-server
/// steps apart, separated by a committed configuration, so their quorums cannot both elect leaders in one term.
/// </summary>
public sealed class ClusterConfig
{
    public static ClusterConfig Empty { get; } = new([], []);

    private readonly Member[] _voters;
    private readonly Member[] _learners;

    public ClusterConfig(Member[] voters, Member[] learners)
    {
        _voters = voters;
        _learners = learners;
    }

    public IReadOnlyList<Member> Voters => _voters;

    internal Member[] VoterArray => _voters;

    internal Member[] LearnerArray => _learners;

    public IReadOnlyList<Member> Learners => _learners;

    /// <summary>Votes (or acknowledgements) needed for a quorum of the voters.</summary>
    public int Quorum => _voters.Length / 2 + 1;

    public static ClusterConfig Of(params long[] voterIds)
    {
        var voters = new Member[voterIds.Length];
        for (var i = 0; i < voterIds.Length; i++)
        {
            voters[i] = new Member(voterIds[i], 1);
        }

        return new ClusterConfig(voters, []);
    }

    /// <summary>True when (id, incarnation) is a voting member.</summary>
    public bool IsVoter(long id, long incarnation)
    {
        foreach (var v in _voters)
        {
            if (v.Id == id)
            {
                return v.Incarnation == incarnation;
            }
        }

        return false;
    }

    public bool TryGetMember(long id, out Member member, out bool isVoter)
    {
        foreach (var v in _voters)
        {
            if (v.Id == id)
            {
                member = v;
                isVoter = true;
                return true;
            }
        }

        foreach (var l in _learners)
        {
            if (l.Id == id)
            {
                member = l;
                isVoter = false;
                return true;
            }
        }

        member = default;
        isVoter = false;
        return false;
    }

    /// <summary>
    /// The configuration after <paramref name="change"/>, or null with a reason when the change is not a valid
    /// single-server change of this configuration.
    /// </summary>
    public ClusterConfig? Apply(ConfigChange change, out string? error)
    {
        var m = change.Member;
        var present = TryGetMember(m.Id, out var existing, out var isVoter);
        error = null;
        switch (change.Type)
        {
            case ConfigChangeType.AddLearner:
                if (present)
                {
                    error = $"replica {m.Id} is already a member";
                    return null;
                }

                return new ClusterConfig(_voters, [.. _learners, m]);
            case ConfigChangeType.AddVoter:
                if (present)
                {
                    error = $"replica {m.Id} is already a member";
                    return null;
                }

                return new ClusterConfig([.. _voters, m with { AutoPromote = false }], _learners);
            case ConfigChangeType.PromoteLearner:
                if (!present || isVoter || existing.Incarnation != m.Incarnation)
                {
                    error = $"replica {m.Id}@{m.Incarnation} is not a learner";
                    return null;
                }

                return new ClusterConfig([.. _voters, existing with { AutoPromote = false }], Without(_learners, m.Id));
            case ConfigChangeType.Remove:
                if (!present)
                {
                    error = $"replica {m.Id} is not a member";
                    return null;
                }

                return isVoter
                    ? new ClusterConfig(Without(_voters, m.Id), _learners)
                    : new ClusterConfig(_voters, Without(_learners, m.Id));
            case ConfigChangeType.Rejoin:
                if (!present || m.Incarnation == existing.Incarnation)
                {
                    error = $"replica {m.Id}@{m.Incarnation} is not another incarnation of a member";
                    return null;
                }

                var learner = m with { AutoPromote = true };
                return isVoter
                    ? new ClusterConfig(Without(_voters, m.Id), [.. _learners, learner])
                    : new ClusterConfig(_voters, [.. Without(_learners, m.Id), learner]);
            default:
                error = $"unknown change {change.Type}";
                return null;
        }
    }

    public byte[] Encode()
    {
        var buffer = new byte[8 + (_voters.Length + _learners.Length) * 17];
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, _voters.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], _learners.Length);
        var at = 8;
        foreach (var m in _voters)
        {
            at = Write(span, at, m);
        }

        foreach (var m in _learners)
        {
            at = Write(span, at, m);
        }

        return buffer;
    }

    /// <exception cref="InvalidDataException">The bytes are not a configuration (counts that do not fit them, a truncated member).</exception>
    public static ClusterConfig Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length < 8)
        {
            throw new InvalidDataException($"a configuration of {data.Length} bytes is truncated");
        }

        // Counted before anything is allocated: a garbled count must not ask for gigabytes or a negative array.
        var voterCount = BinaryPrimitives.ReadInt32LittleEndian(data);
        var learnerCount = BinaryPrimitives.ReadInt32LittleEndian(data[4..]);
        if (voterCount < 0 || learnerCount < 0 || 8 + (17L * ((long)voterCount + learnerCount)) > data.Length)
        {
            throw new InvalidDataException($"a configuration of {data.Length} bytes claims {voterCount} voters and {learnerCount} learners");
        }

        var voters = new Member[voterCount];
        var learners = new Member[learnerCount];
        var at = 8;
        for (var i = 0; i < voters.Length; i++, at += 17)
        {
            voters[i] = Read(data[at..]);
        }

        for (var i = 0; i < learners.Length; i++, at += 17)
        {
            learners[i] = Read(data[at..]);
        }

        return new ClusterConfig(voters, learners);
    }

    public override string ToString() =>
        $"voters[{string.Join(',', _voters.Select(v => $"{v.Id}@{v.Incarnation}"))}] learners[{string.Join(',', _learners.Select(l => $"{l.Id}@{l.Incarnation}{(l.AutoPromote ? "+" : "")}"))}]";

    private static int Write(Span<byte> span, int at, Member m)
    {
        BinaryPrimitives.WriteInt64LittleEndian(span[at..], m.Id);
        BinaryPrimitives.WriteInt64LittleEndian(span[(at + 8)..], m.Incarnation);
        span[at + 16] = m.AutoPromote ? (byte)1 : (byte)0;
        return at + 17;
    }

    private static Member Read(ReadOnlySpan<byte> span) =>
        new(BinaryPrimitives.ReadInt64LittleEndian(span), BinaryPrimitives.ReadInt64LittleEndian(span[8..]), span[16] != 0);

    private static Member[] Without(Member[] members, long id)
    {
        var result = new Member[members.Length - 1];
        var j = 0;
        foreach (var m in members)
        {
            if (m.Id != id)
            {
                result[j++] = m;
            }
        }

        return result;
    }
}
