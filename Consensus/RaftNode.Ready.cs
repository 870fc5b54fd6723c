namespace Pyralog.Consensus;

/// <summary>
/// The output side: what a Ready carries, what waits for a persist, and what a finished persist unlocks.
/// Asynchronous persistence (etcd's async storage writes): entries, a received snapshot and the hard state are cut
/// into a <see cref="PersistBatch"/> the host writes while it keeps stepping and ticking the node. Acknowledgements
/// and vote grants leave only with that batch (<see cref="PersistBatch.MessagesAfterPersist"/>), and the node counts
/// its own entries toward a commit, and its own vote toward an election, only once <see cref="Persisted"/> says they
/// are durable. Committed entries are handed to the application only once durable here too, so a local snapshot never
/// covers entries the disk does not hold.
/// </summary>
public sealed partial class RaftNode
{
    /// <summary>The after-persist list of a batch with nothing waiting (saves a list per batch). Invariant: always empty.</summary>
    private static readonly List<Message> NoMessages = [];

    public bool HasReady =>
        _messages.Count > 0 || _afterPersist.Count > 0 || _log.HasUnpersisted || _readStates.Count > 0 ||
        HardStateChanged(CurrentHardState) || _log.ApplyLimit > _log.Applied;

    private HardState CurrentHardState => new(_term, _vote, _log.Committed, _voteIncarnation, Incarnation);

    public Ready GetReady()
    {
        CheckNoReadyOut();
        _readyOut = true;
        var r = _ready;
        r.Role = Role;
        r.Leader = _lead;

        var hard = CurrentHardState;
        var hardChanged = HardStateChanged(hard);
        var snapshot = _log.TakeSnapshotToPersist();
        var entries = _log.TakeEntriesToPersist();
        if (snapshot is not null || entries.Length > 0 || hardChanged || _afterPersist.Count > 0)
        {
            var mark = new PersistMark(_log.LastIndex, _log.LastTerm, snapshot?.Index ?? 0, hard);
            var waiting = _afterPersist.Count > 0 ? _afterPersist : NoMessages;
            r.ToPersist = new PersistBatch(snapshot, entries, hard, hardChanged, waiting, mark);
            if (waiting.Count > 0)
            {
                _afterPersist = [];
            }
            _handedOutHardState = hard;
        }
        else
        {
            r.ToPersist = null;
        }

        r.MessageList = _messages;
        _messages = _spareMessages;

        r.Committed.Clear();
        var applied = _log.Applied;
        var limit = _log.ApplyLimit;
        if (limit > applied)
        {
            _log.Entries(applied + 1, limit + 1, _options.MaxCommittedBytesPerReady, r.Committed);
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

    /// <summary>The host has started persisting, sent the messages, applied the entries and taken the read states of the last <see cref="Ready"/>.</summary>
    public void Advance()
    {
        if (!_readyOut)
        {
            throw new InvalidOperationException("Advance without an outstanding Ready");
        }

        var r = _ready;
        _log.Applied = Math.Max(_log.Applied, _readyApplied);
        r.MessageList.Clear();
        _spareMessages = r.MessageList;
        r.ToPersist = null;
        _readyOut = false;
    }

    /// <summary>
    /// A <see cref="PersistBatch"/> is durable (batches complete in the order they were handed out). Entries up to
    /// its mark now count for this node (toward a commit when it leads), its snapshot is applied, and a candidate's
    /// own vote counts once the hard state recording it is durable.
    /// </summary>
    public void Persisted(PersistMark mark)
    {
        CheckNoReadyOut();
        _log.Persisted(mark);
        var hard = mark.HardState;
        if (Role == RaftRole.Candidate && hard.Term == _term && hard.Vote == Id && hard.VoteIncarnation == Incarnation && !_votes.ContainsKey(Id))
        {
            _votes[Id] = true;
            ActOnTally();
        }
        else if (Role == RaftRole.Leader && MaybeCommit())
        {
            OnCommitted();
        }
    }

    private bool HardStateChanged(HardState hard) =>
        Bug(RaftTestBugs.HardStateIgnoresVote)
            ? hard with { Vote = _handedOutHardState.Vote, VoteIncarnation = _handedOutHardState.VoteIncarnation } != _handedOutHardState
            : hard != _handedOutHardState;

    private void Send(Message m) => _messages.Add(m);

    /// <summary>A message that promises durable state: it leaves with the next batch, after that batch is on disk.</summary>
    private void SendAfterPersist(Message m)
    {
        if (Bug(RaftTestBugs.AcknowledgeBeforePersist))
        {
            _messages.Add(m);
            return;
        }

        _afterPersist.Add(m);
    }

    /// <summary>
    /// Entries from <paramref name="from"/> were overwritten in memory before any batch carried them: acknowledgements
    /// still waiting for a batch that claim them are dropped (they would be sent after a batch holding other entries
    /// there). The leader asks again.
    /// </summary>
    private void DropAcknowledgementsFrom(long from)
    {
        var kept = 0;
        for (var i = 0; i < _afterPersist.Count; i++)
        {
            var m = _afterPersist[i];
            if (m.Type != MessageType.AppendResponse || m.Index < from)
            {
                _afterPersist[kept++] = m;
            }
        }

        _afterPersist.RemoveRange(kept, _afterPersist.Count - kept);
    }

    private void CheckNoReadyOut()
    {
        if (_readyOut)
        {
            throw new InvalidOperationException("a Ready is outstanding: handle it and call Advance before using the node again");
        }
    }
}
