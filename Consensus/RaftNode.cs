namespace Pyralog.Consensus;

/// <summary>
/// A pure Raft state machine in the etcd-raft style: no I/O, no clock, no threads. The host feeds it messages
/// (<see cref="Step"/>), ticks (<see cref="Tick"/>) and client requests, drains its output through
/// <see cref="GetReady"/> / <see cref="Advance"/>, and reports finished writes with <see cref="Persisted"/> (see
/// <see cref="Ready"/> and <see cref="PersistBatch"/> for the contract). The code is split by responsibility:
/// this file holds the state and the public calls; elections, the follower side, the leader's replication, reads,
/// membership and the Ready/persist cycle each have their own file, and the log view, progress tracking and quorum
/// arithmetic are types of their own.
///
/// Guarantees (Raft's, under crash-recovery with asynchronous writes, message loss, duplication, reordering and
/// partitions, with at most a minority of voters down or wiped): at most one leader per term (a vote is sent only
/// once the hard state recording it is durable, and a candidate counts its own vote only once durable, so a crash
/// that loses a vote never lets a node vote twice in a term); a leader's log contains every committed entry (the
/// up-to-date vote check; leaders commit only entries of their own term by counting); a follower acknowledges
/// entries only once they are durable, and a leader counts itself only for entries it has persisted.
///
/// Liveness helpers: pre-vote (a partitioned node cannot inflate terms), check-quorum (a leader cut off from a
/// quorum steps down, and followers that hear a leader ignore vote requests — the lease that stops removed or
/// partitioned nodes from disrupting), randomized election timeouts from the injected random source, pipelined
/// replication bounded by in-flight message count and bytes, conflict hints for fast back-off, snapshots (sent in
/// chunks) for followers behind the compacted log, and leader transfer via TimeoutNow.
///
/// Membership and incarnations: see <see cref="ClusterConfig"/> for the single-server change rules and the
/// incarnation argument. The leader keeps one progress per member, for the incarnation the configuration names:
/// Appends and snapshots are addressed to that incarnation, and only its answers count. An answer from another
/// incarnation of the replica (a duplicate activation, or one that lost its disk) counts for nothing; it leads to a
/// <see cref="ConfigChangeType.Rejoin"/> only once the configured incarnation has been silent for an election
/// timeout, so a short-lived second activation cannot evict the healthy one, and an incarnation that outlived a
/// short-lived successor can rejoin. Heartbeats go to whichever incarnation receives them (that is how the leader
/// hears of a new one), so a follower commits from a heartbeat only up to the index it has verified against the
/// leader of the current term (one leader per term; the verification is dropped whenever the term changes), and an
/// incarnation answering for another is never told to commit entries it does not have.
/// </summary>
public sealed partial class RaftNode
{
    /// <summary>Message context marking a campaign forced by a leader transfer (it overrides the lease).</summary>
    private const long ForceCampaign = 1;

    private readonly RaftOptions _options;
    private readonly RaftLog _log;
    private readonly Dictionary<long, Progress> _progress = [];
    private readonly Dictionary<long, bool> _votes = [];
    private readonly List<LogEntry> _scratch = [];
    private readonly List<PendingRead> _reads = [];
    private readonly List<ReadState> _readStates = [];
    private readonly Ready _ready = new();
    private readonly SnapshotAssembly _snapshotAssembly = new();
    private LogEntry[] _proposeBuffer = new LogEntry[64];
    private LogEntry[] _lastEntries = [];
    private long[] _quorumScratch = new long[8];
    private List<Message> _messages = [];
    private List<Message> _spareMessages = [];

    // Messages that promise durable state (acknowledgements, vote grants); they leave with the next PersistBatch.
    private List<Message> _afterPersist = [];

    private long _term;

    // Invariant: _vote != 0 only for the current term; with _voteIncarnation it names the one candidate incarnation
    // this node votes for in _term.
    private long _vote;
    private long _voteIncarnation;
    private long _lead;

    // Invariant: the highest index this follower verified against the leader of the current term (0 after any term
    // or leader change); heartbeats commit only up to it.
    private long _verified;
    private long _leadTransferee;
    private long _readRound;
    private long _ticks;
    private int _electionElapsed;
    private int _heartbeatElapsed;
    private int _randomizedElectionTimeout;

    // The hard state of the last batch handed out: a batch carries a hard state only when it differs.
    private HardState _handedOutHardState;
    private bool _readyOut;
    private long _readyApplied;

    public RaftNode(RaftOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        var hard = options.Storage.HardState;
        if (hard.Incarnation != 0 && hard.Incarnation != options.Incarnation)
        {
            throw new ArgumentException(
                $"the storage belongs to incarnation {hard.Incarnation} of replica {options.Id}, not {options.Incarnation}", nameof(options));
        }

        _options = options;
        _log = new RaftLog(options.Storage, options.MaxCachedBytes, options.Applied);
        _handedOutHardState = hard;
        _term = hard.Term;
        _vote = hard.Vote;
        _voteIncarnation = hard.VoteIncarnation;
        BecomeFollower(_term, 0);
    }

    public long Id => _options.Id;

    public long Incarnation => _options.Incarnation;

    public long Term => _term;

    public RaftRole Role { get; private set; }

    /// <summary>The leader this node knows for the current term (0 = unknown).</summary>
    public long Leader => _lead;

    public ClusterConfig Config => _log.Meta.Config;

    public long CommitIndex => _log.Committed;

    /// <summary>Whether the configuration in force is committed (a leader accepts the next membership change only then).</summary>
    public bool ConfigCommitted => _log.Meta.ConfigIndex <= _log.Committed;

    public long AppliedIndex => _log.Applied;

    public long LastIndex => _log.LastIndex;

    /// <summary>The term of the last entry in the log (of the snapshot when the log is empty past it).</summary>
    public long LastTerm => _log.LastTerm;

    /// <summary>The index of the snapshot the log starts after (possibly one received and not yet durable).</summary>
    public long SnapshotIndex => _log.SnapshotIndex;

    /// <summary>True when this incarnation is a voter of its current configuration.</summary>
    public bool IsVoter => Config.IsVoter(Id, Incarnation);

    /// <summary>True when this incarnation is a member (voter or learner) of its current configuration.</summary>
    public bool IsMember => Config.TryGetMember(Id, out var member, out _) && member.Incarnation == Incarnation;

    /// <summary>The leader is handing leadership to this replica (0 = no transfer).</summary>
    public long LeadTransferee => _leadTransferee;

    internal long FirstIndex => _log.FirstIndex;

    internal long TermAt(long index) => _log.Term(index);

    internal void CopyEntries(long lo, long hi, List<LogEntry> into) => _log.Entries(lo, hi, long.MaxValue, into);

    private int Quorum => Config.Quorum;

    /// <summary>The election timeout in ticks (a follower campaigns after one to two of them without hearing a leader).</summary>
    public int ElectionTicks => _options.ElectionTicks;

    /// <summary>
    /// Diagnostics for a group that knows no leader: role, term, the vote this node holds, how far its log reaches, its
    /// election timer, and the answers its current (pre-)campaign has received, voter by voter.
    /// </summary>
    public string DescribeElection()
    {
        var text = new System.Text.StringBuilder();
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        text.Append(inv, $"{Role} in term {_term}, voted for {_vote}@{_voteIncarnation}, last {_log.LastIndex}@t{_log.LastTerm}, commit {_log.Committed}, ");
        text.Append(inv, $"election timer {_electionElapsed}/{_randomizedElectionTimeout}, answers [");
        var first = true;
        foreach (var (id, granted) in _votes)
        {
            text.Append(inv, $"{(first ? "" : " ")}{id}:{(granted ? "granted" : "rejected")}");
            first = false;
        }

        return text.Append(']').ToString();
    }

    /// <summary>Diagnostics for failure reports: durable index, the leader's progress per member, the transfer.</summary>
    internal string DescribeReplication()
    {
        var text = new System.Text.StringBuilder();
        text.Append(System.Globalization.CultureInfo.InvariantCulture, $"persisted {_log.StableLastIndex} waiting-acks {_afterPersist.Count}");
        foreach (var pr in _progress.Values)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $" [{pr.Id}@{pr.Incarnation} {pr.State} match {pr.Match} next {pr.Next}{(pr.IsPaused ? " paused" : "")}]");
        }

        if (_leadTransferee != 0)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $" transferring to {_leadTransferee}");
        }

        return text.ToString();
    }

    private bool Bug(RaftTestBugs bug) => (_options.Bugs & bug) != 0;

    public void Tick()
    {
        CheckNoReadyOut();
        _ticks++;
        if (Role == RaftRole.Leader)
        {
            TickLeader();
        }
        else
        {
            _electionElapsed++;
            if (IsVoter && _electionElapsed >= _randomizedElectionTimeout)
            {
                Campaign(_options.PreVote, force: false);
            }
        }
    }

    public void Step(Message m)
    {
        ArgumentNullException.ThrowIfNull(m);
        CheckNoReadyOut();
        if (m.ToIncarnation != 0 && m.ToIncarnation != Incarnation)
        {
            return;
        }

        if (m.Term > _term)
        {
            if (m.Type is MessageType.Vote or MessageType.PreVote)
            {
                var inLease = _options.CheckQuorum && _lead != 0 && _electionElapsed < _options.ElectionTicks;
                if (inLease && m.Context != ForceCampaign)
                {
                    return;
                }
            }

            if (m.Type == MessageType.PreVote || (m.Type == MessageType.PreVoteResponse && !m.Reject))
            {
                // A pre-vote never changes terms: the request asks about a future term, the grant echoes it.
            }
            else if (m.Type is MessageType.Append or MessageType.Heartbeat or MessageType.InstallSnapshot)
            {
                BecomeFollower(m.Term, m.From);
            }
            else if (m.Type == MessageType.Vote && !_log.IsUpToDate(m.Index, m.LogTerm))
            {
                // A candidate this node will not vote for (its log is behind) moves the term on but does not restart the
                // election timer, which Raft restarts only on a leader's message or a granted vote: otherwise a candidate
                // that cannot win (without pre-vote), campaigning again and again, keeps the node that could from ever
                // campaigning (a simulated group stalled so, two voters in the up-to-date node's configuration).
                var elapsed = _electionElapsed;
                var timeout = _randomizedElectionTimeout;
                BecomeFollower(m.Term, 0);
                _electionElapsed = elapsed;
                _randomizedElectionTimeout = timeout;
            }
            else
            {
                BecomeFollower(m.Term, 0);
            }
        }
        else if (m.Term < _term)
        {
            if ((_options.CheckQuorum || _options.PreVote) && m.Type is MessageType.Append or MessageType.Heartbeat)
            {
                // Tell a stale leader about the newer term so it steps down.
                Send(new Message { Type = MessageType.AppendResponse, To = m.From, ToIncarnation = m.FromIncarnation, From = Id, FromIncarnation = Incarnation, Term = _term, Index = 0, Reject = true });
            }
            else if (m.Type == MessageType.PreVote)
            {
                Send(new Message { Type = MessageType.PreVoteResponse, To = m.From, ToIncarnation = m.FromIncarnation, From = Id, FromIncarnation = Incarnation, Term = _term, Reject = true });
            }

            return;
        }

        if (m.Type is MessageType.Vote or MessageType.PreVote)
        {
            HandleVoteRequest(m);
            return;
        }

        switch (Role)
        {
            case RaftRole.Leader:
                StepLeader(m);
                break;
            case RaftRole.Candidate:
            case RaftRole.PreCandidate:
                StepCandidate(m);
                break;
            default:
                StepFollower(m);
                break;
        }
    }

    /// <summary>Proposes one entry. See <see cref="Propose(ReadOnlySpan{ReadOnlyMemory{byte}})"/>.</summary>
    public ProposeResult Propose(ReadOnlyMemory<byte> data) => Propose([data]);

    /// <summary>
    /// Appends a batch of entries at the leader and starts replicating them in as few messages as the size limits
    /// allow. On a follower returns <see cref="ProposeStatus.NotLeader"/> with the leader it knows.
    /// </summary>
    public ProposeResult Propose(ReadOnlySpan<ReadOnlyMemory<byte>> batch)
    {
        CheckNoReadyOut();
        if (Role != RaftRole.Leader)
        {
            return ProposeResult.Rejected(ProposeStatus.NotLeader, _lead, "not the leader");
        }

        if (_leadTransferee != 0)
        {
            return ProposeResult.Rejected(ProposeStatus.TransferInProgress, Id, $"transferring leadership to {_leadTransferee}");
        }

        if (batch.IsEmpty)
        {
            return ProposeResult.Rejected(ProposeStatus.Empty, Id, "empty batch");
        }

        if (_log.LastIndex - _log.Committed + batch.Length > _options.MaxUncommittedEntries)
        {
            return ProposeResult.Rejected(ProposeStatus.Backpressure, Id, $"{_log.LastIndex - _log.Committed} entries are uncommitted");
        }

        if (_proposeBuffer.Length < batch.Length)
        {
            _proposeBuffer = new LogEntry[Math.Max(batch.Length, _proposeBuffer.Length * 2)];
        }

        var first = _log.LastIndex + 1;
        for (var i = 0; i < batch.Length; i++)
        {
            _proposeBuffer[i] = new LogEntry(first + i, _term, EntryType.Normal, batch[i]);
        }

        var entries = _proposeBuffer.AsSpan(0, batch.Length);
        AppendAsLeader(entries);
        entries.Clear();
        BroadcastAppend(sendIfEmpty: false);
        return new ProposeResult(ProposeStatus.Accepted, Id, _term, first, first + batch.Length - 1);
    }

    /// <summary>
    /// Leader: the voter to hand leadership to when this one must leave — among the other voters at their configured
    /// incarnation heard from within an election timeout, the one holding the most of the log; 0 when there is none.
    /// </summary>
    public long TransferCandidate()
    {
        if (Role != RaftRole.Leader)
        {
            return 0;
        }

        long best = 0, bestMatch = -1;
        foreach (var v in Config.VoterArray)
        {
            if (v.Id != Id && _progress.TryGetValue(v.Id, out var pr) && pr.Incarnation == v.Incarnation &&
                _ticks - pr.LastHeard < _options.ElectionTicks && pr.Match > bestMatch)
            {
                best = v.Id;
                bestMatch = pr.Match;
            }
        }

        return best;
    }

    /// <summary>
    /// Leader: whether voter <paramref name="id"/> could take leadership at once — heard from within an election timeout
    /// at its configured incarnation and holding every committed entry — so a transfer to it stops proposals only for
    /// a round trip (leader balancing moves leadership only to such a voter).
    /// </summary>
    public bool IsCaughtUpVoter(long id) =>
        Role == RaftRole.Leader && id != Id && Config.TryGetMember(id, out var member, out var isVoter) && isVoter &&
        _progress.TryGetValue(id, out var pr) && pr.Incarnation == member.Incarnation &&
        _ticks - pr.LastHeard < _options.ElectionTicks && pr.Match >= _log.Committed;

    /// <summary>Hands leadership to a voter: stops proposals, catches the target up, then tells it to campaign now.</summary>
    public ProposeResult TransferLeadership(long to)
    {
        CheckNoReadyOut();
        if (Role != RaftRole.Leader)
        {
            return ProposeResult.Rejected(ProposeStatus.NotLeader, _lead, "not the leader");
        }

        if (to == Id)
        {
            return new ProposeResult(ProposeStatus.Accepted, Id, _term, 0, 0);
        }

        if (!Config.TryGetMember(to, out _, out var isVoter) || !isVoter || !_progress.TryGetValue(to, out var pr))
        {
            return ProposeResult.Rejected(ProposeStatus.UnknownMember, Id, $"replica {to} is not a voter");
        }

        _leadTransferee = to;
        _electionElapsed = 0;
        if (pr.Match == _log.LastIndex)
        {
            SendTimeoutNow(to);
        }
        else
        {
            SendAppend(pr, sendIfEmpty: true);
        }

        return new ProposeResult(ProposeStatus.Accepted, Id, _term, 0, 0);
    }

    /// <summary>
    /// Builds the snapshot record for the applied state up to <paramref name="index"/> (the host supplies the state
    /// machine image) and drops the entries it covers from the node's view; the host then stores it (with
    /// <see cref="MemoryRaftStorage.Compact"/> or its equivalent). Allowed for SnapshotIndex &lt; index ≤ AppliedIndex.
    /// </summary>
    public RaftSnapshot CreateSnapshot(long index, ReadOnlyMemory<byte> data)
    {
        CheckNoReadyOut();
        if (index > _log.Applied || index <= _log.SnapshotIndex)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"snapshot index {index} must be in ({_log.SnapshotIndex}, applied {_log.Applied}]");
        }

        var config = _log.Meta.Configs[0].Config;
        foreach (var c in _log.Meta.Configs)
        {
            if (c.Index <= index)
            {
                config = c.Config;
            }
        }

        var snapshot = new RaftSnapshot(index, _log.Term(index), config, data);
        _log.Compact(snapshot);
        return snapshot;
    }
}
