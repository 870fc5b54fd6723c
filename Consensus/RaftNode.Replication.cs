namespace Pyralog.Consensus;

/// <summary>
/// The leader side of replication (etcd's raft.go leader paths plus the tracker): heartbeats and check-quorum,
/// progress per member (probe → replicate → snapshot) with pipelined Appends bounded by count and bytes, conflict
/// hints, snapshots in chunks, and commitment. A leader commits an index once a quorum of voters (at their
/// configured incarnations) hold it durably — itself only for entries its own disk holds
/// (<see cref="RaftLog.StableLastIndex"/>) — and only if the entry is of its own term (Raft's Figure 8).
/// </summary>
public sealed partial class RaftNode
{
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
            RefuseRead(m);
            return;
        }

        if (m.FromIncarnation != pr.Incarnation)
        {
            // Another incarnation of a member: it counts for nothing (its answers and acknowledgements are dropped, its
            // reads refused) unless it is the only one of the replica still heard from.
            pr.OtherIncarnationHeard = _ticks;
            MaybeRejoin(pr, m.FromIncarnation);
            RefuseRead(m);
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
            MaybePromote(pr);
        }
    }

    /// <summary>A read forwarded by a replica this configuration does not count (an activation replaced in its group
    /// that missed its replacement, or one removed) is refused at once: dropped, it held its caller until a timeout.</summary>
    private void RefuseRead(Message m)
    {
        if (m.Type == MessageType.ReadIndex)
        {
            Send(new Message
            {
                Type = MessageType.ReadIndexResponse, To = m.From, ToIncarnation = m.FromIncarnation, From = Id, FromIncarnation = Incarnation,
                Term = _term, Context = m.Context, Reject = true,
            });
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
        if (pr.State == ProgressState.Probe && m.Index >= pr.Next && m.Index <= _log.LastIndex)
        {
            // The follower holds everything up to m.Index, verified against this leader or committed (so the same
            // entries as here); only its acknowledgement waits, for its disk. Probe from there instead of sending
            // again, every heartbeat, what it has.
            pr.Next = m.Index + 1;
        }

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

    private bool MaybeCommit()
    {
        var voters = Config.VoterArray;
        if (voters.Length == 0)
        {
            return false;
        }

        EnsureQuorumScratch(voters.Length);
        for (var i = 0; i < voters.Length; i++)
        {
            _quorumScratch[i] = MatchOf(voters[i]);
        }

        var index = QuorumMath.QuorumValue(_quorumScratch, voters.Length, Quorum);
        if (index > _log.Committed && (_log.Term(index) == _term || Bug(RaftTestBugs.CommitPreviousTerms)))
        {
            _log.Committed = index;
            return true;
        }

        return false;
    }

    /// <summary>What a voter holds durably: this node counts only what its own disk has.</summary>
    private long MatchOf(Member voter)
    {
        if (voter.Id == Id)
        {
            return voter.Incarnation != Incarnation ? 0 : Bug(RaftTestBugs.LeaderCountsUnpersisted) ? _log.LastIndex : _log.StableLastIndex;
        }

        return _progress.TryGetValue(voter.Id, out var pr) && pr.Incarnation == voter.Incarnation ? pr.Match : 0;
    }

    /// <summary>
    /// Leader: the last index voter <paramref name="id"/> is known to hold durably (this node: what its own disk has);
    /// 0 when it is not a voter of the current incarnation, or this node does not lead.
    /// </summary>
    public long DurableIndexOf(long id) =>
        Role == RaftRole.Leader && Config.TryGetMember(id, out var member, out var isVoter) && isVoter ? MatchOf(member) : 0;

    /// <summary>Leader: how many entries the voter furthest behind lacks (0 on a follower, or when all are caught up).</summary>
    public long MaxVoterLag()
    {
        if (Role != RaftRole.Leader)
        {
            return 0;
        }

        long lag = 0;
        foreach (var v in Config.VoterArray)
        {
            lag = Math.Max(lag, _log.LastIndex - MatchOf(v));
        }

        return lag;
    }

    private void EnsureQuorumScratch(int count)
    {
        if (_quorumScratch.Length < count)
        {
            _quorumScratch = new long[count * 2];
        }
    }

    private void AppendAsLeader(ReadOnlySpan<LogEntry> entries)
    {
        if (_log.Append(entries, RaftTestBugs.None))
        {
            SyncProgress();
        }
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

    /// <summary>Sends the next Append (or the snapshot) to one peer if flow control allows; false if nothing was sent.</summary>
    private bool SendAppend(Progress pr, bool sendIfEmpty)
    {
        if (pr.IsPaused)
        {
            return false;
        }

        var prev = pr.Next - 1;
        if (prev < _log.SnapshotIndex)
        {
            SendSnapshot(pr);
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

    /// <summary>The current snapshot in chunks of at most <see cref="RaftOptions.MaxSnapshotChunkBytes"/> data bytes each.</summary>
    private void SendSnapshot(Progress pr)
    {
        var snapshot = _log.CurrentSnapshot;
        var total = snapshot.Data.Length;
        var chunk = (int)Math.Max(1, Math.Min(_options.MaxSnapshotChunkBytes, int.MaxValue));
        var offset = 0;
        do
        {
            var length = Math.Min(chunk, total - offset);
            Send(new Message
            {
                Type = MessageType.InstallSnapshot, To = pr.Id, ToIncarnation = pr.Incarnation, From = Id, FromIncarnation = Incarnation, Term = _term,
                Snapshot = snapshot with { Data = snapshot.Data.Slice(offset, length) }, ChunkOffset = offset, SnapshotBytes = total,
            });
            offset += length;
        }
        while (offset < total);

        pr.BecomeSnapshot(snapshot.Index);
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
}
