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
        if (canVote && upToDate)
        {
            var grant = new Message { Type = responseType, To = m.From, ToIncarnation = m.FromIncarnation, From = Id, FromIncarnation = Incarnation, Term = m.Term };
            if (preVote)
            {
                Send(grant);
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
