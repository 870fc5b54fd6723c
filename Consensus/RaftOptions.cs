using System.ComponentModel.DataAnnotations;

namespace Pyralog.Consensus;

/// <summary>
/// Settings of one node. Timeouts are in ticks (the host decides how long a tick is). Election timeouts are drawn
/// from [ElectionTicks, 2 × ElectionTicks) with <see cref="Random"/> so that runs are reproducible per seed.
/// </summary>
public sealed class RaftOptions : IValidatableObject
{
    /// <summary>This replica's id (non-zero: 0 is reserved for "none").</summary>
    public required long Id { get; init; }

    /// <summary>
    /// This activation's incarnation. Must be the one recorded in the persisted hard state when there is one (the node
    /// throws otherwise), and a value larger than any earlier incarnation of this replica when the storage is empty
    /// (see <see cref="ClusterConfig"/>). Not 0, which the hard state uses for "not recorded"; negative is allowed (hosts
    /// use 64-bit IDs cast to long).
    /// </summary>
    public long Incarnation { get; init; } = 1;

    public required IRaftStorage Storage { get; init; }

    /// <summary>
    /// The index the host's state machine had applied when this node was built (restored from the host's own durable
    /// state): committed entries are handed to the application from the next one. At most the persisted commit index;
    /// below the snapshot index it means the snapshot's index (etcd's Config.Applied).
    /// </summary>
    public long Applied { get; init; }

    public required IRaftRandom Random { get; init; }

    public int ElectionTicks { get; init; } = 10;

    /// <summary>Ticks between a leader's heartbeats; fewer than <see cref="ElectionTicks"/>.</summary>
    [Range(1, int.MaxValue, ErrorMessage = "{0} must be at least {1}")]
    public int HeartbeatTicks { get; init; } = 1;

    /// <summary>
    /// True (etcd's behaviour): when the commit index moves, the leader tells every follower at once, with an empty
    /// Append when no entries are due. False: the new commit index travels with the next Append or heartbeat (at most
    /// <see cref="HeartbeatTicks"/> later), which halves the messages of a group that commits one write at a time;
    /// followers apply later by as much (a follower's ReadIndex still learns the commit index from the heartbeat round
    /// the read makes, and a quiescing leader's last heartbeat carries it).
    /// </summary>
    public bool BroadcastCommit { get; init; } = true;

    /// <summary>Bytes of entries per Append message (at least one entry is always sent).</summary>
    [Range(1, long.MaxValue, ErrorMessage = "{0} must be at least {1}")]
    public long MaxBytesPerMessage { get; init; } = 1 << 20;

    /// <summary>Appends in flight per follower in the Replicate state.</summary>
    [Range(1, int.MaxValue, ErrorMessage = "{0} must be at least {1}")]
    public int MaxInflightMessages { get; init; } = 64;

    /// <summary>Bytes of entries in flight per follower.</summary>
    [Range(1, long.MaxValue, ErrorMessage = "{0} must be at least {1}")]
    public long MaxInflightBytes { get; init; } = 64L << 20;

    /// <summary>
    /// The leader refuses proposals that would leave more entries than this uncommitted, so a leader that cannot reach
    /// a quorum does not buffer without bound.
    /// </summary>
    [Range(1, int.MaxValue, ErrorMessage = "{0} must be at least {1}")]
    public int MaxUncommittedEntries { get; init; } = 1 << 20;

    /// <summary>Data bytes per InstallSnapshot message (a snapshot goes out in chunks of at most this size).</summary>
    [Range(1, long.MaxValue, ErrorMessage = "{0} must be at least {1}")]
    public long MaxSnapshotChunkBytes { get; init; } = 1 << 20;

    /// <summary>
    /// Bytes (<see cref="LogEntry.Size"/>) of entries kept in memory once durable, the newest; older ones are read back
    /// through <see cref="IRaftLogReader"/> when a lagging follower or the application needs them. Entries not yet
    /// durable are always kept, whatever this says. A host with many groups bounds its memory by this times its groups.
    /// </summary>
    [Range(0, long.MaxValue, ErrorMessage = "{0} must be at least {1}")]
    public long MaxCachedBytes { get; init; } = 1 << 20;

    /// <summary>Bytes of committed entries handed to the application per Ready (at least one entry is always handed).</summary>
    [Range(1, long.MaxValue, ErrorMessage = "{0} must be at least {1}")]
    public long MaxCommittedBytesPerReady { get; init; } = 8L << 20;

    public bool PreVote { get; init; } = true;

    /// <summary>The leader steps down when it has not heard from a quorum within an election timeout; followers ignore
    /// vote requests while they hear from a leader (a leader lease against disruptive nodes).</summary>
    public bool CheckQuorum { get; init; } = true;

    /// <summary>The leader promotes auto-promoting learners and rejoins new incarnations by itself.</summary>
    public bool AutoMembership { get; init; } = true;

    /// <summary>Deliberate bugs, only for proving that the simulator detects them.</summary>
    internal RaftTestBugs Bugs { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming every setting that is wrong and the value it has.</summary>
    public void Validate()
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(this, new ValidationContext(this), results, validateAllProperties: true))
        {
            throw new ArgumentException(string.Join(" ", results.Select(Describe)), results[0].MemberNames.FirstOrDefault());
        }
    }

    /// <summary>The rules across settings (run once the annotations hold).</summary>
    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        if (Id == 0)
        {
            yield return new ValidationResult("Id must not be 0, which is reserved for 'none'", [nameof(Id)]);
        }

        if (Incarnation == 0)
        {
            // The hard state records 0 as "no incarnation yet", so storage written by incarnation 0 would be taken by any other.
            yield return new ValidationResult("Incarnation must not be 0, which the hard state reserves for 'not recorded'", [nameof(Incarnation)]);
        }

        if (ElectionTicks <= HeartbeatTicks)
        {
            yield return new ValidationResult($"ElectionTicks must be more than HeartbeatTicks ({HeartbeatTicks})", [nameof(ElectionTicks)]);
        }
    }

    /// <summary>"X must be …" as "RaftOptions.X must be … (was value)."</summary>
    private string Describe(ValidationResult result)
    {
        var member = result.MemberNames.First();
        var value = typeof(RaftOptions).GetProperty(member)?.GetValue(this);
        return $"{nameof(RaftOptions)}.{(result.ErrorMessage ?? string.Empty).TrimEnd('.')} (was {value}).";
    }
}
