namespace Pyralog.Consensus;

/// <summary>
/// The leader's view of one member, i.e. of one (replica id, incarnation): what it is known to hold
/// (<see cref="Match"/>), what to send next (<see cref="Next"/>), the replication state and flow control, and when it
/// was last heard from. Only messages from that incarnation update it; Match only ever grows. When the configuration
/// names another incarnation of the replica the leader replaces the progress (the new incarnation holds none of what
/// the old one acknowledged).
/// </summary>
internal sealed class Progress
{
    public Progress(long id, long incarnation, long next, int maxInflight, long maxInflightBytes)
    {
        Id = id;
        Incarnation = incarnation;
        Next = next;
        Inflights = new Inflights(maxInflight, maxInflightBytes);
    }

    public long Id { get; }

    public long Incarnation { get; }

    public long Match { get; set; }

    public long Next { get; set; }

    public ProgressState State { get; private set; }

    /// <summary>In Probe: an Append is outstanding; wait for its answer or the next heartbeat answer.</summary>
    public bool ProbeSent { get; set; }

    public long PendingSnapshot { get; private set; }

    /// <summary>Heartbeat answers seen while a snapshot is outstanding (it is resent after a few: it may be lost).</summary>
    public int SnapshotWaits { get; set; }

    /// <summary>Heard from since the last check-quorum round.</summary>
    public bool RecentActive { get; set; }

    /// <summary>The leader's tick count when this incarnation was last heard from (or the progress was created).</summary>
    public long LastHeard { get; set; }

    /// <summary>
    /// The leader's tick count when another incarnation of this member was last heard from; null if none was since this
    /// progress was created. Invariant: while it is within an election timeout the leader does not quiesce (see
    /// <see cref="RaftNode.CanQuiesce"/>).
    /// </summary>
    public long? OtherIncarnationHeard { get; set; }

    /// <summary>Highest read round (heartbeat context) this member acknowledged in the current term.</summary>
    public long ReadAck { get; set; }

    public Inflights Inflights { get; }

    public bool IsPaused => State switch
    {
        ProgressState.Probe => ProbeSent,
        ProgressState.Replicate => Inflights.Full,
        _ => true,
    };

    public void BecomeProbe(long next)
    {
        State = ProgressState.Probe;
        Next = Math.Max(next, Match + 1);
        ProbeSent = false;
        PendingSnapshot = 0;
        Inflights.Reset();
    }

    public void BecomeReplicate()
    {
        State = ProgressState.Replicate;
        Next = Match + 1;
        ProbeSent = false;
        Inflights.Reset();
    }

    public void BecomeSnapshot(long snapshotIndex)
    {
        State = ProgressState.Snapshot;
        PendingSnapshot = snapshotIndex;
        SnapshotWaits = 0;
        Inflights.Reset();
    }

    /// <summary>An acknowledgement up to <paramref name="index"/>; false if it is stale.</summary>
    public bool MaybeUpdate(long index)
    {
        var updated = false;
        if (Match < index)
        {
            Match = index;
            updated = true;
            ProbeSent = false;
        }

        Next = Math.Max(Next, index + 1);
        return updated;
    }

    /// <summary>
    /// A rejection of the Append whose previous index was <paramref name="rejected"/>; moves Next back using the
    /// follower's hint. False when the rejection is stale.
    /// </summary>
    public bool MaybeDecreaseTo(long rejected, long hint)
    {
        if (State == ProgressState.Replicate)
        {
            if (rejected <= Match)
            {
                return false;
            }
        }
        else if (Next - 1 != rejected)
        {
            return false;
        }

        // From the follower's hint, not from Match: a follower that missed one Append of a pipeline holds, not yet
        // durable, much of what was sent before it, and the probe confirms the guess (or is refused again).
        Next = Math.Max(Math.Min(rejected, hint + 1), Match + 1);
        ProbeSent = false;
        return true;
    }
}
