namespace Pyralog.Consensus;

/// <summary>
/// Roles and elections. Pre-vote asks for votes for a future term without changing anything, so a node cut off from
/// the group cannot inflate terms. A real vote is granted only by a node that has not voted for another incarnation
/// in the term and whose log is not more up to date than the candidate's; the grant leaves only after the hard state
/// recording it is durable (<see cref="SendAfterPersist"/>), and a candidate wins only with its own vote durable, so
/// a crash that loses unpersisted state never lets a replica vote twice in one term.
/// </summary>
public sealed partial class RaftNode
{
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
            _snapshotAssembly.Release(); // chunks of an older term are refused, so its partial snapshot cannot complete
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
            _snapshotAssembly.Release(); // as in BecomeFollower: the old term's partial snapshot cannot complete
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
        if (preVote || Bug(RaftTestBugs.SelfVoteBeforePersist))
        {
            // A pre-vote promises nothing; a real self-vote counts once the hard state recording it is durable (Persisted).
            _votes[Id] = true;
            if (TallyVotes() > 0)
            {
                WinVote(force);
                return;
            }
        }

        foreach (var v in Config.VoterArray)
        {
            if (v.Id != Id)
            {
                Send(VoteRequest(type, v.Id, v.Incarnation, voteTerm, force));
            }
        }
    }

    private Message VoteRequest(MessageType type, long to, long toIncarnation, long voteTerm, bool force) => new()
    {
        Type = type, To = to, ToIncarnation = toIncarnation, From = Id, FromIncarnation = Incarnation, Term = voteTerm,
        Index = _log.LastIndex, LogTerm = _log.LastTerm, Context = force ? ForceCampaign : 0,
    };

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

    private void ActOnTally()
    {
        var result = TallyVotes();
        if (result > 0)
        {
            WinVote(force: false);
        }
        else if (result < 0)
        {
            BecomeFollower(_term, 0);
        }
    }

    /// <summary>
    /// 1 = won, -1 = lost, 0 = undecided. Only voters at their configured incarnation were recorded. A candidate
    /// (not a pre-candidate) wins only once its own vote is durable and counted.
    /// </summary>
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

        if (granted >= Quorum && (Role == RaftRole.PreCandidate || _votes.ContainsKey(Id)))
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

    private void HandleVoteRequest(Message m)
    {
        var preVote = m.Type == MessageType.PreVote;
        var responseType = preVote ? MessageType.PreVoteResponse : MessageType.VoteResponse;
        var canVote = (_vote == m.From && _voteIncarnation == m.FromIncarnation) || (_vote == 0 && _lead == 0) || (preVote && m.Term > _term);
        var upToDate = Bug(RaftTestBugs.SkipVoteLogCheck) || _log.IsUpToDate(m.Index, m.LogTerm);
        // A voter pre-campaigning for the same term (see RivalWinsPreVote); anyone else's pre-vote is answered as usual.
        var rival = preVote && Role == RaftRole.PreCandidate && m.Term == _term + 1 && m.Context != ForceCampaign && upToDate && Config.IsVoter(m.From, m.FromIncarnation);
        if (rival && !RivalWinsPreVote(m))
        {
            // This one passes instead. Its own request may have reached the rival while the rival still heard the old
            // leader (in its lease, which ignores requests unanswered): asked again now, the rival grants it.
            canVote = false;
            Send(VoteRequest(MessageType.PreVote, m.From, m.FromIncarnation, _term + 1, force: false));
        }

        if (canVote && upToDate)
        {
            var grant = new Message { Type = responseType, To = m.From, ToIncarnation = m.FromIncarnation, From = Id, FromIncarnation = Incarnation, Term = m.Term };
            if (preVote)
            {
                Send(grant);
                if (rival)
                {
                    BecomeFollower(_term, 0); // step back for the rival (see RivalWinsPreVote)
                }

                return;
            }

            _electionElapsed = 0;
            _vote = m.From;
            _voteIncarnation = m.FromIncarnation;
            SendAfterPersist(grant);
        }
        else
        {
            Send(new Message { Type = responseType, To = m.From, ToIncarnation = m.FromIncarnation, From = Id, FromIncarnation = Incarnation, Term = _term, Reject = true });
        }
    }

    /// <summary>
    /// Whether a rival pre-candidate for the same term gets this pre-candidate's pre-vote: when its log is more up to
    /// date, or as up to date and its id is lower. Followers that lose their leader together time out together when they
    /// drew the same whole number of ticks (one chance in <see cref="RaftOptions.ElectionTicks"/>); granting each other's
    /// pre-vote made both candidates, each holding its own vote, and the term was lost to a split vote (another election
    /// timeout, 0.3–0.6 s by default). So exactly one of two rivals passes; the other grants it and steps back. Pre-votes
    /// change no term and no vote, so this decides only who campaigns, never what a vote may grant.
    /// </summary>
    private bool RivalWinsPreVote(Message m) =>
        m.LogTerm != _log.LastTerm || m.Index != _log.LastIndex || m.From < Id;

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

                ActOnTally();
                break;
        }
    }
}
