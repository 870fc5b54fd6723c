using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/// <summary>Proposals and linearizable reads: how each caller gets its answer (see the class comment in ReplicaDriver.cs).</summary>
internal sealed partial class ReplicaDriver
{
    /// <summary>Proposes one entry; completes with the state machine's answer once it is applied here.</summary>
    /// <exception cref="NotLeaderException">Not the leader, or a transfer is running.</exception>
    public Task<object?> ProposeAsync(ReadOnlyMemory<byte> data, string replicaKey, Func<int, string> keyOfReplica)
    {
        ThrowIfUnavailable();
        Wake("proposal");
        var result = _node.Propose(data);
        if (!result.Accepted)
        {
            throw result.Status switch
            {
                ProposeStatus.NotLeader or ProposeStatus.TransferInProgress => NotLeader(result, replicaKey, keyOfReplica),
                ProposeStatus.Backpressure => new InvalidOperationException($"replica {replicaKey} refuses the append: {result.Error} (retry later)"),
                _ => new InvalidOperationException($"replica {replicaKey} refuses the append: {result.Error}"),
            };
        }

        var done = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_proposals.Remove(result.FirstIndex, out var replaced))
        {
            // Made here in an earlier term; its entry was truncated before this node led again and reached the index.
            replaced.Done.TrySetException(ReplacedBy(result.Term));
        }

        _proposals[result.FirstIndex] = (result.Term, done);
        TraceProposal(result.FirstIndex);
        if (_persisting.Count == 0 && !_pumpScheduled)
        {
            Pump(); // nothing in flight: waiting for company would only add latency
        }
        else
        {
            SchedulePump();
        }

        return done.Task;
    }

    /// <summary>Confirms leadership (ReadIndex) and waits until everything committed when the read began is applied here.</summary>
    /// <exception cref="NotLeaderException">Not the leader.</exception>
    public Task ReadIndexAsync(string replicaKey, Func<int, string> keyOfReplica)
    {
        ThrowIfUnavailable();
        Wake("read");
        var context = ++_readContext;
        var result = _node.ReadIndex(context);
        if (!result.Accepted)
        {
            throw NotLeader(result, replicaKey, keyOfReplica);
        }

        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        _readIndexRequests[context] = (done, replicaKey, keyOfReplica);
        SchedulePump();
        return done.Task;
    }

    /// <summary>
    /// Throws <see cref="NotLeaderException"/> (with the leader this replica knows of) unless it leads its group now, by its
    /// own view: for reads that may trail the latest commits, and so need no round to the followers (nor wake the group).
    /// </summary>
    public void ThrowUnlessLeader(string replicaKey, Func<int, string> keyOfReplica)
    {
        ThrowIfUnavailable();
        if (_node.Role != RaftRole.Leader)
        {
            throw NotLeader(_node.Leader, replicaKey, keyOfReplica);
        }
    }

    private NotLeaderException NotLeader(ProposeResult result, string replicaKey, Func<int, string> keyOfReplica) =>
        NotLeader(result.LeaderHint, replicaKey, keyOfReplica);

    private NotLeaderException NotLeader(long leaderHint, string replicaKey, Func<int, string> keyOfReplica) =>
        new(replicaKey, leaderHint == 0 || leaderHint == RaftId(_replica) ? null : keyOfReplica(Replica(leaderHint)));

    /// <summary>
    /// The node dropped its pending read requests with the change of leader or term (a leader's reads wait for its own
    /// quorum round; a follower's were forwarded to a leader that may never answer): their callers learn it now, with
    /// the new leader as the hint, rather than at their timeout.
    /// </summary>
    private void FailReadIndexRequests(long leader)
    {
        foreach (var (_, read) in _readIndexRequests)
        {
            read.Done.TrySetException(NotLeader(leader, read.ReplicaKey, read.KeyOfReplica));
        }

        _readIndexRequests.Clear();
    }

    private void Applied(in LogEntry entry)
    {
        var answer = _machine.Apply(entry);
        if (_proposals.Remove(entry.Index, out var proposal))
        {
            if (proposal.Term == entry.Term)
            {
                proposal.Done.TrySetResult(answer);
            }
            else
            {
                proposal.Done.TrySetException(ReplacedBy(entry.Term));
            }
        }
    }

    private static NotLeaderException ReplacedBy(long term) =>
        new($"the append was replaced by the entry of another leader (term {term}) before it committed; nothing was appended");

    /// <summary>
    /// A snapshot replaced the log up to <paramref name="index"/>: proposals made here at or below it will never be
    /// applied one by one, and the snapshot does not say which of them committed.
    /// </summary>
    private void ForgetProposalsUpTo(long index)
    {
        foreach (var (at, proposal) in _proposals)
        {
            if (at <= index)
            {
                proposal.Done.TrySetException(new TimeoutException(
                    $"the replica received a snapshot up to Raft index {index} before its append at {at} was applied here; its outcome is unknown"));
                _proposals.Remove(at); // removing the current entry keeps the enumeration valid
            }
        }
    }

    private void AnswerReads()
    {
        for (var i = _readsWaitingForApply.Count - 1; i >= 0; i--)
        {
            if (_readsWaitingForApply[i].Index <= _node.AppliedIndex)
            {
                _readsWaitingForApply[i].Done.TrySetResult(true);
                _readsWaitingForApply.RemoveAt(i);
            }
        }
    }

    /// <summary>
    /// Orleans started to deactivate this replica's activation (see <see cref="ReplicaDeactivationWatch"/>). It delivers
    /// no more messages to it, so nothing pending here can complete, and it finishes the deactivation, and lets the next
    /// activation start, only once every running request has returned: fail them now (outcome unknown, a producer
    /// retries with the same sequence) instead of letting each wait out its timeout.
    /// </summary>
    public void OnDeactivating()
    {
        if (!_disposed)
        {
            FailPending(new TimeoutException("the replica is deactivating before the operation finished; its outcome is unknown"));
        }
    }

    private void FailPending(Exception error)
    {
        foreach (var (_, proposal) in _proposals)
        {
            proposal.Done.TrySetException(error);
        }

        _proposals.Clear();
        foreach (var (_, read) in _readIndexRequests)
        {
            read.Done.TrySetException(error);
        }

        _readIndexRequests.Clear();
        foreach (var (_, read) in _readsWaitingForApply)
        {
            read.TrySetException(error);
        }

        _readsWaitingForApply.Clear();
    }
}
