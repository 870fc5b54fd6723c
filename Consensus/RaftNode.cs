namespace Pyralog.Consensus;

/// <summary>
/// A pure Raft state machine in the etcd-raft style: no I/O, no clock, no threads. The host feeds it messages
/// (<see cref="Step"/>), ticks (<see cref="Tick"/>) and client requests, and drains its output through
/// <see cref="GetReady"/> / <see cref="Advance"/> (see <see cref="Ready"/> for the order the host must follow).
///
/// Guarantees (Raft's, under crash-recovery, message loss, duplication, reordering and partitions, with at most a
/// minority of voters down or wiped): at most one leader per term (votes are persisted before they are sent and a
/// candidate counts only voters of its configuration at their recorded incarnation); a leader's log contains every
/// committed entry (the up-to-date vote check; leaders commit only entries of their own term by counting);
/// entries are acknowledged only after the host persisted them (acknowledgements leave in the Ready that carries
/// the entries), and a leader counts itself only for entries it has persisted (<see cref="Advance"/>).
///
/// Liveness helpers: pre-vote (a partitioned node cannot inflate terms), check-quorum (a leader cut off from a
/// quorum steps down, and followers that hear a leader ignore vote requests — the lease that stops removed or
/// partitioned nodes from disrupting), randomized election timeouts from the injected random source, pipelined
/// replication bounded by in-flight message count and bytes, conflict hints for fast back-off, snapshots for
/// followers behind the compacted log, and leader transfer via TimeoutNow.
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
public sealed class RaftNode
{
    private const long ForceCampaign = 1;

    private readonly RaftOptions _options;
    private readonly RaftLog _log;
    private readonly List<ConfigEntry> _configs = [];
    private readonly Dictionary<long, Progress> _progress = [];
    private readonly Dictionary<long, bool> _votes = [];
    private readonly List<LogEntry> _scratch = [];
    private readonly List<PendingRead> _reads = [];
    private readonly List<ReadState> _readStates = [];
    private readonly Ready _ready = new();
    private LogEntry[] _proposeBuffer = new LogEntry[64];
    private LogEntry[] _lastEntries = [];
    private long[] _quorumScratch = new long[8];
    private List<Message> _messages = [];
    private List<Message> _spareMessages = [];

    private long _term;
    private long _vote;
    private long _voteIncarnation;
    private long _lead;
    private long _verified;
    private long _leadTransferee;
    private long _readRound;
    private long _ticks;
    private int _electionElapsed;
    private int _heartbeatElapsed;
    private int _randomizedElectionTimeout;
    private HardState _persistedHardState;
    private bool _readyOut;
    private int _readyEntries;
    private long _readyApplied;

    public RaftNode(RaftOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Id == 0)
        {
            throw new ArgumentException("replica id 0 is reserved for 'none'", nameof(options));
        }

        if (options.ElectionTicks <= options.HeartbeatTicks || options.HeartbeatTicks <= 0)
        {
            throw new ArgumentException("need 0 < HeartbeatTicks < ElectionTicks", nameof(options));
        }

        var hard = options.Storage.HardState;
        if (hard.Incarnation != 0 && hard.Incarnation != options.Incarnation)
        {
            throw new ArgumentException(
                $"the storage belongs to incarnation {hard.Incarnation} of replica {options.Id}, not {options.Incarnation}", nameof(options));
        }

        _options = options;
        _log = new RaftLog(options.Storage);
        _persistedHardState = hard;
        _term = hard.Term;
        _vote = hard.Vote;
        _voteIncarnation = hard.VoteIncarnation;
        LoadConfigs(options.Storage);
        BecomeFollower(_term, 0);
    }

    public long Id => _options.Id;

    public long Incarnation => _options.Incarnation;

    public long Term => _term;

    public RaftRole Role { get; private set; }

    /// <summary>The leader this node knows for the current term (0 = unknown).</summary>
    public long Leader => _lead;

    public ClusterConfig Config => _configs[^1].Config;

    public long CommitIndex => _log.Committed;

    public long AppliedIndex => _log.Applied;

    public long LastIndex => _log.LastIndex;

    /// <summary>True when this incarnation is a voter of its current configuration.</summary>
    public bool IsVoter => Config.IsVoter(Id, Incarnation);

    internal long FirstIndex => _log.FirstIndex;

    internal long TermAt(long index) => _log.Term(index);

    internal void CopyEntries(long lo, long hi, List<LogEntry> into) => _log.Entries(lo, hi, long.MaxValue, into);

    public bool HasReady =>
        _messages.Count > 0 || _log.UnstableCount > 0 || _log.PendingSnapshot is not null || _readStates.Count > 0 ||
        CurrentHardState != _persistedHardState || _log.Committed > _log.Applied;

    private HardState CurrentHardState => new(_term, _vote, _log.Committed, _voteIncarnation, Incarnation);

    private int Quorum => Config.Quorum;

    // ---------------------------------------------------------------- input

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
    /// Requests a linearizable read point. The leader serves it: once it has committed an entry of its term and a
    /// quorum acknowledged a heartbeat sent after the request, a <see cref="ReadState"/> with the commit index of the
    /// request time comes out in a Ready. A follower forwards the request to the leader it knows and emits the
    /// ReadState when the answer arrives (a lost request or answer is never retried: the caller times out and asks
    /// again). Without a known leader the result is <see cref="ProposeStatus.NotLeader"/>.
    /// </summary>
    public ProposeResult ReadIndex(long context)
    {
        CheckNoReadyOut();
        if (Role == RaftRole.Leader)
        {
            AddRead(context, 0, 0);
            return new ProposeResult(ProposeStatus.Accepted, Id, _term, 0, 0);
        }

        if (Role != RaftRole.Follower || _lead == 0)
        {
            return ProposeResult.Rejected(ProposeStatus.NotLeader, _lead, "no known leader");
        }

        Send(new Message { Type = MessageType.ReadIndex, To = _lead, From = Id, FromIncarnation = Incarnation, Term = _term, Context = context });
        return new ProposeResult(ProposeStatus.Accepted, _lead, _term, 0, 0);
    }

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
    /// Proposes one single-server membership change (rules and safety argument in <see cref="ClusterConfig"/>).
    /// The new configuration is in force on each node as soon as the entry is in its log.
    /// </summary>
    public ProposeResult ProposeMembershipChange(ConfigChange change)
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

        if (_configs[^1].Index > _log.Committed)
        {
            return ProposeResult.Rejected(ProposeStatus.ConfigChangePending, Id, $"configuration at {_configs[^1].Index} is not committed");
        }

        if (_log.Term(_log.Committed) != _term)
        {
            return ProposeResult.Rejected(ProposeStatus.LeaderNotReady, Id, "leader has not committed an entry of its term");
        }

        if (change.Member.Id == Id && change.Type is ConfigChangeType.Remove or ConfigChangeType.Rejoin)
        {
            return ProposeResult.Rejected(ProposeStatus.InvalidConfigChange, Id, "the leader cannot remove itself; transfer leadership first");
        }

        var next = Config.Apply(change, out var error);
        if (next is null)
        {
            return ProposeResult.Rejected(ProposeStatus.InvalidConfigChange, Id, error);
        }

        var index = _log.LastIndex + 1;
        AppendAsLeader([new LogEntry(index, _term, EntryType.Config, next.Encode())]);
        BroadcastAppend(sendIfEmpty: false);
        return new ProposeResult(ProposeStatus.Accepted, Id, _term, index, index);
    }

    /// <summary>
    /// Builds the snapshot record for the applied state up to <paramref name="index"/> (the host supplies the state
    /// machine image); the host then stores it with <see cref="IRaftStorage.Compact"/>.
    /// </summary>
    public RaftSnapshot CreateSnapshot(long index, ReadOnlyMemory<byte> data)
    {
        CheckNoReadyOut();
        if (index > _log.Applied || index < _log.SnapshotIndex)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"snapshot index {index} must be in [{_log.SnapshotIndex}, applied {_log.Applied}]");
        }

        var config = _configs[0];
        var keepFrom = 0;
        for (var i = 0; i < _configs.Count && _configs[i].Index <= index; i++)
        {
            config = _configs[i];
            keepFrom = i;
        }

        _configs.RemoveRange(0, keepFrom);
        return new RaftSnapshot(index, _log.Term(index), config.Config, data);
    }

    // ---------------------------------------------------------------- output

    public Ready GetReady()
    {
        CheckNoReadyOut();
        _readyOut = true;
        var r = _ready;
        var hard = CurrentHardState;
        r.HardState = hard;
        r.HardStateChanged = hard != _persistedHardState;
        r.Role = Role;
        r.Leader = _lead;
        r.Snapshot = _log.PendingSnapshot;
        r.EntriesSegment = _log.Unstable;
        _readyEntries = _log.UnstableCount;

        r.MessageList = _messages;
        _messages = _spareMessages;

        r.Committed.Clear();
        var applied = Math.Max(_log.Applied, _log.SnapshotIndex);
        if (_log.Committed > applied)
        {
            _log.Entries(applied + 1, _log.Committed + 1, _options.MaxCommittedBytesPerReady, r.Committed);
            _readyApplied = applied + r.Committed.Count;
        }
        else
        {
            _readyApplied = applied;
        }

        r.ReadStateList.Clear();
        r.ReadStateList.AddRange(_readStates);
        _readStates.Clear();
        return r;
    }

    /// <summary>The host has completed everything in the last <see cref="Ready"/>.</summary>
    public void Advance()
    {
        if (!_readyOut)
        {
            throw new InvalidOperationException("Advance without an outstanding Ready");
        }

        var r = _ready;
        _persistedHardState = r.HardState;
        _log.StableTo(_readyEntries, r.Snapshot is not null);
        _log.Applied = _readyApplied;
        r.MessageList.Clear();
        _spareMessages = r.MessageList;
        r.Snapshot = null;
        r.EntriesSegment = default;
        _readyOut = false;
        if (Role == RaftRole.Leader && MaybeCommit())
        {
            OnCommitted();
        }
    }

    // ---------------------------------------------------------------- roles

    private void BecomeFollower(long term, long lead)
    {
        if (term != _term || lead != _lead || Role != RaftRole.Follower)
        {
            _verified = 0;
        }

        if (term != _term)
        {
            _term = term;
            _vote = 0;
            _voteIncarnation = 0;
        }

        Role = RaftRole.Follower;
        _lead = lead;
        ResetTimers();
        _leadTransferee = 0;
        _votes.Clear();
        _reads.Clear();
        _progress.Clear();
    }

    private void BecomeLeader()
    {
        Role = RaftRole.Leader;
        _lead = Id;
        ResetTimers();
        _leadTransferee = 0;
        _readRound = 0;
        _reads.Clear();
        _progress.Clear();
        SyncProgress();
        AppendAsLeader([new LogEntry(_log.LastIndex + 1, _term, EntryType.Normal, ReadOnlyMemory<byte>.Empty)]);
        BroadcastAppend(sendIfEmpty: true);
    }

    private void Campaign(bool preVote, bool force)
    {
        if (!IsVoter)
        {
            return;
        }

        long voteTerm;
        MessageType type;
        if (preVote)
        {
            Role = RaftRole.PreCandidate;
            _lead = 0;
            voteTerm = _term + 1;
            type = MessageType.PreVote;
        }
        else
        {
            Role = RaftRole.Candidate;
            _term++;
            _vote = Id;
            _voteIncarnation = Incarnation;
            _lead = 0;
            voteTerm = _term;
            type = MessageType.Vote;
        }

        ResetTimers();
        _votes.Clear();
        _progress.Clear();
        _reads.Clear();
        _votes[Id] = true;
        if (TallyVotes() > 0)
        {
            WinVote(force);
            return;
        }

        foreach (var v in Config.VoterArray)
        {
            if (v.Id != Id)
            {
                Send(new Message
                {
                    Type = type, To = v.Id, ToIncarnation = v.Incarnation, From = Id, FromIncarnation = Incarnation, Term = voteTerm,
                    Index = _log.LastIndex, LogTerm = _log.LastTerm, Context = force ? ForceCampaign : 0,
                });
            }
        }
    }

    private void WinVote(bool force)
    {
        if (Role == RaftRole.PreCandidate)
        {
            Campaign(preVote: false, force);
        }
        else
        {
            BecomeLeader();
        }
    }

    /// <summary>1 = won, -1 = lost, 0 = undecided. Only voters at their configured incarnation were recorded.</summary>
    private int TallyVotes()
    {
        int granted = 0, rejected = 0;
        foreach (var v in Config.VoterArray)
        {
            if (_votes.TryGetValue(v.Id, out var g))
            {
                if (g)
                {
                    granted++;
                }
                else
                {
                    rejected++;
                }
            }
        }

        if (granted >= Quorum)
        {
            return 1;
        }

        return rejected > Config.VoterArray.Length - Quorum ? -1 : 0;
    }

    private void ResetTimers()
    {
        _electionElapsed = 0;
        _heartbeatElapsed = 0;
        _randomizedElectionTimeout = _options.ElectionTicks + _options.Random.Next(_options.ElectionTicks);
    }

    // ---------------------------------------------------------------- votes

    private void HandleVoteRequest(Message m)
    {
        var preVote = m.Type == MessageType.PreVote;
        var responseType = preVote ? MessageType.PreVoteResponse : MessageType.VoteResponse;
        var canVote = (_vote == m.From && _voteIncarnation == m.FromIncarnation) || (_vote == 0 && _lead == 0) || (preVote && m.Term > _term);
        var upToDate = (_options.Bugs & RaftTestBugs.SkipVoteLogCheck) != 0 || _log.IsUpToDate(m.Index, m.LogTerm);
        if (canVote && upToDate)
        {
            Send(new Message { Type = responseType, To = m.From, ToIncarnation = m.FromIncarnation, From = Id, FromIncarnation = Incarnation, Term = m.Term });
            if (!preVote)
            {
                _electionElapsed = 0;
                _vote = m.From;
                _voteIncarnation = m.FromIncarnation;
            }
        }
        else
        {
            Send(new Message { Type = responseType, To = m.From, ToIncarnation = m.FromIncarnation, From = Id, FromIncarnation = Incarnation, Term = _term, Reject = true });
        }
    }

    private void StepCandidate(Message m)
    {
        switch (m.Type)
        {
            case MessageType.Append:
            case MessageType.Heartbeat:
            case MessageType.InstallSnapshot:
                BecomeFollower(m.Term, m.From);
                StepFollower(m);
                break;
            case MessageType.VoteResponse when Role == RaftRole.Candidate:
            case MessageType.PreVoteResponse when Role == RaftRole.PreCandidate:
                if (Config.IsVoter(m.From, m.FromIncarnation))
                {
                    _votes.TryAdd(m.From, !m.Reject);
                }

                var result = TallyVotes();
                if (result > 0)
                {
                    WinVote(force: false);
                }
                else if (result < 0)
                {
                    BecomeFollower(_term, 0);
                }

                break;
        }
    }

    // ---------------------------------------------------------------- follower

    private void StepFollower(Message m)
    {
        switch (m.Type)
        {
            case MessageType.Append:
                _electionElapsed = 0;
                _lead = m.From;
                HandleAppend(m);
                break;
            case MessageType.Heartbeat:
                _electionElapsed = 0;
                _lead = m.From;
                CommitTo(Math.Min(m.Commit, Math.Max(_verified, _log.Committed)));
                Send(new Message
                {
                    Type = MessageType.HeartbeatResponse, To = m.From, ToIncarnation = m.FromIncarnation, From = Id, FromIncarnation = Incarnation, Term = _term,
                    Context = m.Context, Index = Math.Max(_verified, _log.Committed),
                });
                break;
            case MessageType.InstallSnapshot:
                _electionElapsed = 0;
                _lead = m.From;
                HandleSnapshot(m);
                break;
            case MessageType.TimeoutNow:
                Campaign(preVote: false, force: true);
                break;
            case MessageType.ReadIndexResponse:
                _readStates.Add(new ReadState(m.Index, m.Context));
                break;
        }
    }

    private void HandleAppend(Message m)
    {
        if (m.Index < _log.Committed)
        {
            _verified = Math.Max(_verified, _log.Committed);
            SendAppendResponse(m, _log.Committed);
            return;
        }

        if (_log.MatchTerm(m.Index, m.LogTerm))
        {
            var lastNew = m.Index + m.Entries.Length;
            var conflict = _log.AppendFollower(m.Entries);
            if (conflict > 0)
            {
                TrackConfigs(m.Entries.AsSpan((int)(conflict - m.Index - 1)), conflict);
            }

            _verified = Math.Max(_verified, lastNew);
            CommitTo(Math.Min(m.Commit, lastNew));
            SendAppendResponse(m, lastNew);
            return;
        }

        var hint = _log.FindConflictByTerm(Math.Min(m.Index, _log.LastIndex), m.LogTerm);
        Send(new Message
        {
            Type = MessageType.AppendResponse, To = m.From, ToIncarnation = m.FromIncarnation, From = Id, FromIncarnation = Incarnation, Term = _term,
            Index = m.Index, Reject = true, RejectHint = hint, LogTerm = _log.Term(hint),
        });
    }

    private void HandleSnapshot(Message m)
    {
        var s = m.Snapshot!;
        if (s.Index <= _log.Committed)
        {
            SendAppendResponse(m, _log.Committed);
            return;
        }

        if (_log.MatchTerm(s.Index, s.Term))
        {
            _verified = Math.Max(_verified, s.Index);
            CommitTo(s.Index);
            SendAppendResponse(m, s.Index);
            return;
        }

        _log.Restore(s);
        _configs.Clear();
        _configs.Add(new ConfigEntry(s.Index, s.Config));
        _verified = s.Index;
        SendAppendResponse(m, s.Index);
    }

    private void SendAppendResponse(Message request, long index) =>
        Send(new Message
        {
            Type = MessageType.AppendResponse, To = request.From, ToIncarnation = request.FromIncarnation, From = Id, FromIncarnation = Incarnation,
            Term = _term, Index = index,
        });

    private void CommitTo(long index)
    {
        if (index > _log.Committed)
        {
            _log.Committed = index;
        }
    }

    // ---------------------------------------------------------------- leader

    private void TickLeader()
    {
        _heartbeatElapsed++;
        _electionElapsed++;
        if (_electionElapsed >= _options.ElectionTicks)
        {
            _electionElapsed = 0;
            if (_options.CheckQuorum && !QuorumActive())
            {
                BecomeFollower(_term, 0);
                return;
            }

            _leadTransferee = 0;
        }

        if (_heartbeatElapsed >= _options.HeartbeatTicks)
        {
            _heartbeatElapsed = 0;
            BroadcastHeartbeat();
        }
    }

    private bool QuorumActive()
    {
        var active = 0;
        foreach (var v in Config.VoterArray)
        {
            if (v.Id == Id)
            {
                active += v.Incarnation == Incarnation ? 1 : 0;
            }
            else if (_progress.TryGetValue(v.Id, out var pr))
            {
                if (pr.RecentActive && pr.Incarnation == v.Incarnation)
                {
                    active++;
                }

                pr.RecentActive = false;
            }
        }

        return active >= Quorum;
    }

    private void StepLeader(Message m)
    {
        if (!_progress.TryGetValue(m.From, out var pr))
        {
            return;
        }

        if (m.FromIncarnation != pr.Incarnation)
        {
            // Another incarnation of a member: it counts for nothing (its answers, acknowledgements and reads are
            // dropped) unless it is the only one of the replica still heard from.
            MaybeRejoin(pr, m.FromIncarnation);
            return;
        }

        pr.RecentActive = true;
        pr.LastHeard = _ticks;
        switch (m.Type)
        {
            case MessageType.AppendResponse:
                HandleAppendResponse(pr, m);
                break;
            case MessageType.HeartbeatResponse:
                HandleHeartbeatResponse(pr, m);
                break;
            case MessageType.ReadIndex:
                AddRead(m.Context, m.From, m.FromIncarnation);
                return;
            default:
                return;
        }

        if (Role == RaftRole.Leader)
        {
            MaybeChangeMembership(pr);
        }
    }

    private void HandleAppendResponse(Progress pr, Message m)
    {
        if (m.Reject)
        {
            var hint = m.LogTerm > 0 ? _log.FindConflictByTerm(m.RejectHint, m.LogTerm) : m.RejectHint;
            if (pr.MaybeDecreaseTo(m.Index, hint))
            {
                if (pr.State == ProgressState.Replicate)
                {
                    pr.BecomeProbe(pr.Next);
                }

                SendAppend(pr, sendIfEmpty: true);
            }

            return;
        }

        var wasPaused = pr.IsPaused;
        if (!pr.MaybeUpdate(m.Index))
        {
            return;
        }

        switch (pr.State)
        {
            case ProgressState.Probe:
                pr.BecomeReplicate();
                break;
            case ProgressState.Snapshot when pr.Match >= pr.PendingSnapshot:
                pr.BecomeProbe(pr.Match + 1);
                break;
            case ProgressState.Replicate:
                pr.Inflights.FreeLE(m.Index);
                break;
        }

        if (MaybeCommit())
        {
            OnCommitted();
        }
        else if (wasPaused)
        {
            SendAppend(pr, sendIfEmpty: false);
        }

        while (SendAppend(pr, sendIfEmpty: false))
        {
        }

        if (m.From == _leadTransferee && pr.Match == _log.LastIndex)
        {
            SendTimeoutNow(m.From);
        }
    }

    private void HandleHeartbeatResponse(Progress pr, Message m)
    {
        pr.ProbeSent = false;
        if (pr.State == ProgressState.Replicate && pr.Inflights.Full)
        {
            pr.Inflights.FreeFirst();
        }
        else if (pr.State == ProgressState.Snapshot && ++pr.SnapshotWaits >= 3)
        {
            pr.BecomeProbe(pr.Match + 1);
        }

        if (pr.Match < _log.LastIndex || m.Index < Math.Min(pr.Match, _log.Committed))
        {
            SendAppend(pr, sendIfEmpty: true);
        }

        if (m.Context > pr.ReadAck)
        {
            pr.ReadAck = m.Context;
            ReleaseReads();
        }
    }

    /// <summary>Promotes a caught-up auto-promoting learner (one change at a time).</summary>
    private void MaybeChangeMembership(Progress pr)
    {
        if (CanChangeMembership() && Config.TryGetMember(pr.Id, out var member, out var isVoter) && !isVoter && member.AutoPromote &&
            pr.Incarnation == member.Incarnation && pr.Match >= _log.Committed)
        {
            ProposeMembershipChange(new ConfigChange(ConfigChangeType.PromoteLearner, member));
        }
    }

    /// <summary>
    /// Another incarnation of the member <paramref name="pr"/> tracks has just been heard from. It replaces the
    /// configured one (as an auto-promoting learner) only if the configured incarnation has been silent for an
    /// election timeout: while the configured one answers it holds the data and keeps counting, whichever of the two
    /// is newer (in Orleans a duplicate activation is brief, and the one that survives may be either).
    /// </summary>
    private void MaybeRejoin(Progress pr, long incarnation)
    {
        if (_ticks - pr.LastHeard >= _options.ElectionTicks && CanChangeMembership())
        {
            ProposeMembershipChange(new ConfigChange(ConfigChangeType.Rejoin, new Member(pr.Id, incarnation)));
        }
    }

    private bool CanChangeMembership() =>
        _options.AutoMembership && _leadTransferee == 0 && _configs[^1].Index <= _log.Committed && _log.Term(_log.Committed) == _term;

    private bool MaybeCommit()
    {
        var voters = Config.VoterArray;
        if (voters.Length == 0)
        {
            return false;
        }

        if (_quorumScratch.Length < voters.Length)
        {
            _quorumScratch = new long[voters.Length * 2];
        }

        for (var i = 0; i < voters.Length; i++)
        {
            _quorumScratch[i] = MatchOf(voters[i]);
        }

        Array.Sort(_quorumScratch, 0, voters.Length);
        var index = _quorumScratch[voters.Length - Quorum];
        if (index > _log.Committed && (_log.Term(index) == _term || (_options.Bugs & RaftTestBugs.CommitPreviousTerms) != 0))
        {
            _log.Committed = index;
            return true;
        }

        return false;
    }

    private long MatchOf(Member voter)
    {
        if (voter.Id == Id)
        {
            return voter.Incarnation == Incarnation ? _log.StableLastIndex : 0;
        }

        return _progress.TryGetValue(voter.Id, out var pr) && pr.Incarnation == voter.Incarnation ? pr.Match : 0;
    }

    private void OnCommitted()
    {
        var assigned = false;
        var committedInTerm = _log.Term(_log.Committed) == _term;
        for (var i = 0; i < _reads.Count && committedInTerm; i++)
        {
            if (_reads[i].Round == 0)
            {
                if (!assigned)
                {
                    _readRound++;
                    assigned = true;
                }

                _reads[i] = _reads[i] with { Index = _log.Committed, Round = _readRound };
            }
        }

        if (assigned)
        {
            BroadcastHeartbeat();
            ReleaseReads();
        }

        BroadcastAppend(sendIfEmpty: true);
    }

    private void AddRead(long context, long from, long fromIncarnation)
    {
        if (_log.Term(_log.Committed) != _term)
        {
            _reads.Add(new PendingRead(context, 0, 0, from, fromIncarnation));
            return;
        }

        _readRound++;
        _reads.Add(new PendingRead(context, _log.Committed, _readRound, from, fromIncarnation));
        if (Quorum == 1 || (_options.Bugs & RaftTestBugs.ReadWithoutQuorum) != 0)
        {
            ReleaseReads();
        }
        else
        {
            BroadcastHeartbeat();
        }
    }

    private void ReleaseReads()
    {
        if (_reads.Count == 0)
        {
            return;
        }

        var voters = Config.VoterArray;
        if (_quorumScratch.Length < voters.Length)
        {
            _quorumScratch = new long[voters.Length * 2];
        }

        for (var i = 0; i < voters.Length; i++)
        {
            var v = voters[i];
            _quorumScratch[i] = v.Id == Id
                ? (v.Incarnation == Incarnation ? _readRound : 0)
                : _progress.TryGetValue(v.Id, out var pr) && pr.Incarnation == v.Incarnation ? pr.ReadAck : 0;
        }

        Array.Sort(_quorumScratch, 0, voters.Length);
        var acked = (_options.Bugs & RaftTestBugs.ReadWithoutQuorum) != 0 ? _readRound : _quorumScratch[voters.Length - Quorum];
        var kept = 0;
        for (var i = 0; i < _reads.Count; i++)
        {
            var r = _reads[i];
            if (r.Round != 0 && r.Round <= acked)
            {
                if (r.From == 0)
                {
                    _readStates.Add(new ReadState(r.Index, r.Context));
                }
                else
                {
                    Send(new Message
                    {
                        Type = MessageType.ReadIndexResponse, To = r.From, ToIncarnation = r.FromIncarnation, From = Id, FromIncarnation = Incarnation,
                        Term = _term, Index = r.Index, Context = r.Context,
                    });
                }
            }
            else
            {
                _reads[kept++] = r;
            }
        }

        _reads.RemoveRange(kept, _reads.Count - kept);
    }

    private void AppendAsLeader(ReadOnlySpan<LogEntry> entries)
    {
        _log.AppendUnstable(entries);
        TrackConfigs(entries, entries[0].Index);
    }

    private void BroadcastAppend(bool sendIfEmpty)
    {
        foreach (var v in Config.VoterArray)
        {
            if (v.Id != Id && _progress.TryGetValue(v.Id, out var pr))
            {
                SendAppend(pr, sendIfEmpty);
            }
        }

        foreach (var l in Config.LearnerArray)
        {
            if (l.Id != Id && _progress.TryGetValue(l.Id, out var pr))
            {
                SendAppend(pr, sendIfEmpty);
            }
        }
    }

    private void BroadcastHeartbeat()
    {
        foreach (var pr in _progress.Values)
        {
            Send(new Message
            {
                Type = MessageType.Heartbeat, To = pr.Id, From = Id, FromIncarnation = Incarnation, Term = _term,
                Commit = Math.Min(pr.Match, _log.Committed), Context = _readRound,
            });
        }
    }

    /// <summary>Sends the next Append (or InstallSnapshot) to one peer if flow control allows; false if nothing was sent.</summary>
    private bool SendAppend(Progress pr, bool sendIfEmpty)
    {
        if (pr.IsPaused)
        {
            return false;
        }

        var prev = pr.Next - 1;
        if (prev < _log.SnapshotIndex)
        {
            var snapshot = _log.CurrentSnapshot;
            Send(new Message
            {
                Type = MessageType.InstallSnapshot, To = pr.Id, ToIncarnation = pr.Incarnation, From = Id, FromIncarnation = Incarnation, Term = _term,
                Snapshot = snapshot,
            });
            pr.BecomeSnapshot(snapshot.Index);
            return true;
        }

        var entries = EntriesFrom(pr.Next);
        if (entries.Length == 0 && !sendIfEmpty)
        {
            return false;
        }

        Send(new Message
        {
            Type = MessageType.Append, To = pr.Id, ToIncarnation = pr.Incarnation, From = Id, FromIncarnation = Incarnation, Term = _term,
            Index = prev, LogTerm = _log.Term(prev), Entries = entries, Commit = _log.Committed,
        });
        if (entries.Length > 0 && pr.State == ProgressState.Replicate)
        {
            long bytes = 0;
            foreach (var e in entries)
            {
                bytes += e.Size;
            }

            pr.Next = entries[^1].Index + 1;
            pr.Inflights.Add(entries[^1].Index, bytes);
        }
        else if (pr.State == ProgressState.Probe)
        {
            pr.ProbeSent = true;
        }

        return true;
    }

    /// <summary>
    /// The entries to send from <paramref name="next"/>, up to the message byte limit. Followers in step ask for the
    /// same range, so the last array built is reused while it still matches the log (messages are immutable, and
    /// equal index and term at its last entry means, by log matching, the whole range is unchanged).
    /// </summary>
    private LogEntry[] EntriesFrom(long next)
    {
        if (next > _log.LastIndex)
        {
            return [];
        }

        if (_lastEntries.Length > 0 && _lastEntries[0].Index == next && _lastEntries[^1].Index <= _log.LastIndex &&
            _log.Term(_lastEntries[^1].Index) == _lastEntries[^1].Term)
        {
            return _lastEntries;
        }

        _scratch.Clear();
        _log.Entries(next, _log.LastIndex + 1, _options.MaxBytesPerMessage, _scratch);
        _lastEntries = _scratch.ToArray();
        _scratch.Clear();
        return _lastEntries;
    }

    /// <summary>Only the configured voter incarnation of the target may act on it.</summary>
    private void SendTimeoutNow(long to)
    {
        if (Config.TryGetMember(to, out var member, out var isVoter) && isVoter)
        {
            Send(new Message { Type = MessageType.TimeoutNow, To = to, ToIncarnation = member.Incarnation, From = Id, FromIncarnation = Incarnation, Term = _term });
        }
    }

    // ---------------------------------------------------------------- configuration

    private void LoadConfigs(IRaftStorage storage)
    {
        var snapshot = storage.Snapshot;
        _configs.Add(new ConfigEntry(snapshot.Index, snapshot.Config));
        for (var lo = snapshot.Index + 1; lo <= storage.LastIndex;)
        {
            _scratch.Clear();
            storage.ReadEntries(lo, storage.LastIndex + 1, 1 << 20, _scratch);
            foreach (var e in _scratch)
            {
                if (e.Type == EntryType.Config)
                {
                    _configs.Add(new ConfigEntry(e.Index, ClusterConfig.Decode(e.Data.Span)));
                }
            }

            lo += _scratch.Count;
        }

        _scratch.Clear();
    }

    /// <summary>Drops configurations from truncated entries (index ≥ from) and adds those in the new entries.</summary>
    private void TrackConfigs(ReadOnlySpan<LogEntry> entries, long from)
    {
        var changed = false;
        while (_configs.Count > 1 && _configs[^1].Index >= from)
        {
            _configs.RemoveAt(_configs.Count - 1);
            changed = true;
        }

        foreach (var e in entries)
        {
            if (e.Type == EntryType.Config && e.Index >= from)
            {
                _configs.Add(new ConfigEntry(e.Index, ClusterConfig.Decode(e.Data.Span)));
                changed = true;
            }
        }

        if (changed && Role == RaftRole.Leader)
        {
            SyncProgress();
        }
    }

    /// <summary>
    /// Leader: one progress per member other than itself, for the incarnation the configuration names, created
    /// optimistically at the log end (a configuration naming another incarnation of a replica replaces its progress:
    /// the new incarnation holds none of what the old one acknowledged).
    /// </summary>
    private void SyncProgress()
    {
        var config = Config;
        foreach (var m in config.VoterArray)
        {
            AddProgress(m);
        }

        foreach (var m in config.LearnerArray)
        {
            AddProgress(m);
        }

        if (_progress.Count > config.VoterArray.Length + config.LearnerArray.Length)
        {
            var stale = new List<long>();
            foreach (var id in _progress.Keys)
            {
                if (!config.TryGetMember(id, out _, out _))
                {
                    stale.Add(id);
                }
            }

            foreach (var id in stale)
            {
                _progress.Remove(id);
            }
        }

        if (_leadTransferee != 0 && !(config.TryGetMember(_leadTransferee, out _, out var isVoter) && isVoter))
        {
            _leadTransferee = 0;
        }
    }

    private void AddProgress(Member m)
    {
        if (m.Id != Id && !(_progress.TryGetValue(m.Id, out var pr) && pr.Incarnation == m.Incarnation))
        {
            _progress[m.Id] = new Progress(m.Id, m.Incarnation, _log.LastIndex + 1, _options.MaxInflightMessages, _options.MaxInflightBytes)
            {
                RecentActive = true,
                LastHeard = _ticks,
            };
        }
    }

    private void Send(Message m) => _messages.Add(m);

    private void CheckNoReadyOut()
    {
        if (_readyOut)
        {
            throw new InvalidOperationException("a Ready is outstanding: handle it and call Advance before using the node again");
        }
    }
}
