namespace Pyralog.Consensus;

/// <summary>
/// The follower side of replication: Appends (log matching by the previous entry, truncation at the first conflict),
/// heartbeats (commit only up to what was verified against this term's leader), snapshots arriving in chunks, and
/// forwarded reads. Every positive acknowledgement waits for the batch that makes its entries durable; one still
/// waiting when the entries it claims are overwritten is dropped.
/// </summary>
public sealed partial class RaftNode
{
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
                // Not a durability promise: Index only tells the leader whether to resend, Context acknowledges the read round.
                Send(new Message
                {
                    Type = MessageType.HeartbeatResponse, To = m.From, ToIncarnation = m.FromIncarnation, From = Id, FromIncarnation = Incarnation, Term = _term,
                    Context = m.Context, Index = Math.Max(_verified, _log.Committed),
                });
                break;
            case MessageType.InstallSnapshot:
                _electionElapsed = 0;
                _lead = m.From;
                HandleSnapshotChunk(m);
                break;
            case MessageType.TimeoutNow:
                Campaign(preVote: false, force: true);
                break;
            case MessageType.ReadIndexResponse:
                _readStates.Add(new ReadState(m.Index, m.Context, m.Reject));
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
            var written = _log.AppendFollower(m.Entries, _options.Bugs);
            if (written > 0)
            {
                DropAcknowledgementsFrom(written);
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

    private void HandleSnapshotChunk(Message m)
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

        if (_snapshotAssembly.Add(m) is not { } whole)
        {
            return;
        }

        _log.Restore(whole);
        DropAcknowledgementsFrom(0);
        _verified = whole.Index;
        SendAppendResponse(m, whole.Index);
    }

    /// <summary>Bytes held for a snapshot arriving in chunks (0 when none is being assembled).</summary>
    internal long SnapshotAssemblyBytes => _snapshotAssembly.BufferedBytes;

    private void SendAppendResponse(Message request, long index) =>
        SendAfterPersist(new Message
        {
            Type = MessageType.AppendResponse, To = request.From, ToIncarnation = request.FromIncarnation, From = Id, FromIncarnation = Incarnation,
            Term = _term, Index = index,
        });

    private void CommitTo(long index)
    {
        if (index > _log.Committed)
        {
            _log.Committed = index;

            // A partial snapshot the log now covers would be refused once whole: hold no buffer for it meanwhile.
            _snapshotAssembly.ReleaseCoveredBy(index);
        }
    }
}
