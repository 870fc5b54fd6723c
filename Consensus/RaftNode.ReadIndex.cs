namespace Pyralog.Consensus;

/// <summary>
/// Linearizable reads without log writes (etcd's read_only.go, ReadIndex flavour). A read is answered at the commit
/// index of its request time once (1) the leader has committed an entry of its own term (so that index covers every
/// write acknowledged before the request) and (2) a quorum acknowledged a heartbeat round sent after the request (so
/// no newer leader existed then). Rounds are numbered; a voter's acknowledgement of round r confirms every read
/// assigned a round ≤ r.
/// </summary>
public sealed partial class RaftNode
{
    /// <summary>
    /// Requests a linearizable read point. The leader serves it: once it has committed an entry of its term and a
    /// quorum acknowledged a heartbeat sent after the request, a <see cref="ReadState"/> with the commit index of the
    /// request time comes out in a Ready. A follower forwards the request to the leader it knows and emits the
    /// ReadState when the answer arrives (a lost request or answer is never retried: the caller times out and asks
    /// again). Without a known leader, or on a follower whose configuration does not name its incarnation yet (the leader
    /// would not answer it), the result is <see cref="ProposeStatus.NotLeader"/> with the leader it knows.
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

        if (!IsMember)
        {
            // The leader drops what an incarnation its configuration does not name sends it (StepLeader), so a forwarded
            // read would go unanswered until the caller's timeout: a stand-in hears heartbeats before its rejoin reaches it.
            return ProposeResult.Rejected(ProposeStatus.NotLeader, _lead, "this incarnation is not a member of its group yet");
        }

        Send(new Message { Type = MessageType.ReadIndex, To = _lead, From = Id, FromIncarnation = Incarnation, Term = _term, Context = context });
        return new ProposeResult(ProposeStatus.Accepted, _lead, _term, 0, 0);
    }

    /// <summary>The commit index moved: reads waiting for an entry of this term get their index and a round, and the
    /// followers hear of it now or with the next message (<see cref="RaftOptions.BroadcastCommit"/>).</summary>
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

        BroadcastAppend(sendIfEmpty: _options.BroadcastCommit);
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
        if (Quorum == 1 || Bug(RaftTestBugs.ReadWithoutQuorum))
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
        EnsureQuorumScratch(voters.Length);
        for (var i = 0; i < voters.Length; i++)
        {
            var v = voters[i];
            _quorumScratch[i] = v.Id == Id
                ? (v.Incarnation == Incarnation ? _readRound : 0)
                : _progress.TryGetValue(v.Id, out var pr) && pr.Incarnation == v.Incarnation ? pr.ReadAck : 0;
        }

        var acked = Bug(RaftTestBugs.ReadWithoutQuorum) ? _readRound : QuorumMath.QuorumValue(_quorumScratch, voters.Length, Quorum);
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
}
