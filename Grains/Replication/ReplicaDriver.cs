using Microsoft.Extensions.Logging;
using Pyralog.Consensus;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Replication;

/*
 * The driver of one replica's Raft node inside its grain, in the style of etcd's node.go: every input (a delivered
 * envelope, a tick, a proposal, a read) is stepped into the node, and one pass (Pump) then handles what the node
 * produced: it starts persisting the batch as one store write (asynchronously: the grain keeps stepping while the
 * write is in flight, and the node counts only what it was told is durable), sends the messages (one one-way grain
 * call per target per pass, so a pass's Appends to a follower travel together), applies committed entries and
 * answers reads. Persists complete in the order they were queued (the store's commit loop is FIFO); each completion
 * tells the node (Persisted) and only then releases the acknowledgements and votes that promise it.
 *
 * Threading: the grain is reentrant and Orleans runs its turns one at a time, so the driver is single-threaded; an
 * await only ever sits between passes, never inside one (no Ready is outstanding across an await).
 *
 * Proposals resolve when their index is applied: the entry applied at that index either has the proposal's term
 * (committed: the proposer gets the state machine's answer, even if this replica stopped leading meanwhile) or
 * another term (another leader's entry replaced it: nothing was appended). Raft entries never move, so that is
 * exact; only a timeout or a deactivation leaves an outcome unknown.
 *
 * Compaction: when applying asks for it (IReplicaStateMachine.TakeCompaction: a partition's retention moved its first
 * offset, or the metadata group applied enough entries since its last snapshot), the pass that applied it, with no
 * Ready outstanding, has the node take the snapshot (CreateSnapshot: the entries up to it leave the node's view, a
 * follower that needs them is sent the snapshot) and queues one store write: the snapshot record, the compacted
 * metadata and the store log's prefix truncation (ReplicaStorage.Compact). The entries it drops are applied, hence
 * durable; writes complete in queue order, so a persist built before the compaction never overwrites its metadata,
 * and a crash before the write leaves the old snapshot with the whole log.
 *
 * Quiescence: see RaftNode.Quiescence. The leader quiesces after a few idle ticks, marking its last heartbeats; a
 * follower that receives them with everything committed stops ticking too. Any input wakes a replica; a follower
 * that wakes asks its leader to resume heartbeats, so waking is not an election.
 */
internal sealed class ReplicaDriver : IDisposable
{
    private const int IdleTicksBeforeQuiescing = 3;

    private static readonly byte[] NoMessages = MessageCodec.Encode([]);

    private readonly RaftNode _node;
    private readonly ReplicaStorage _storage;
    private readonly PyramidStore _store;
    private readonly IReplicaStateMachine _machine;
    private readonly IReplicaTransport _transport;
    private readonly ILogger _logger;
    private readonly int _replica;
    private readonly string _key;
    private readonly bool _skipSync;

    // Invariant: persists in the order they were queued to the store; the head is the oldest not yet reported durable.
    private readonly Queue<(PersistBatch Batch, WriteBatch Write, Task Task)> _persisting = new();
    private readonly Dictionary<long, List<Message>> _outbox = [];

    // Invariant: keyed by the proposal's log index; resolved when that index is applied (or on failure/dispose).
    private readonly Dictionary<long, (long Term, TaskCompletionSource<object?> Done)> _proposals = [];
    // Invariant: every entry is a read the node still holds (as leader) or forwarded to the leader of _loggedTerm; the
    // node drops them all when its leader or term changes, and so does LogLeadershipChange.
    private readonly Dictionary<long, (TaskCompletionSource<bool> Done, string ReplicaKey, Func<int, string> KeyOfReplica)> _readIndexRequests = [];
    private readonly List<(long Index, TaskCompletionSource<bool> Done)> _readsWaitingForApply = [];
    private long _readContext;
    private bool _pumpScheduled;

    // Invariant: true while one CompletePersistsAsync loop runs; only that loop dequeues _persisting (a second loop
    // started from the Pump inside the first would dequeue a batch that is not yet durable).
    private bool _completingPersists;
    private bool _quiesced = true; // a new driver waits for its first input; the host wakes it at once when it has work
    private bool _markQuiesce;
    private int _idleTicks;
    private Task? _appliedWrite;
    private Exception? _failure;
    private bool _disposed;
    private long _loggedLeader = -1;
    private long _loggedTerm;

    // The follower lag last reported to ReplicationInstruments while leading, or -1: reported only when it changes.
    private long _reportedLag = -1;

    public ReplicaDriver(RaftNode node, ReplicaStorage storage, PyramidStore store, IReplicaStateMachine machine, IReplicaTransport transport, ILogger logger, ReplicaGrainKey key, bool skipSync)
    {
        _node = node;
        _storage = storage;
        _store = store;
        _machine = machine;
        _transport = transport;
        _logger = logger;
        _replica = key.Replica;
        _key = ReplicaGrainKey.Format(key);
        _skipSync = skipSync;
        ReplicationInstruments.Replicas.Add(1);
    }

    public RaftNode Node => _node;

    public bool Quiesced => _quiesced;

    /// <summary>Proposals made here that have not resolved yet (a former leader answers them as it applies them).</summary>
    public int PendingProposals => _proposals.Count;

    /// <summary>The Raft id of replica slot <paramref name="replica"/> (ids are non-zero).</summary>
    public static long RaftId(int replica) => replica + 1;

    /// <summary>The replica slot of Raft id <paramref name="id"/>, or -1 for none.</summary>
    public static int Replica(long id) => id == 0 ? -1 : (int)(id - 1);

    public void Deliver(RaftEnvelope envelope)
    {
        if (_failure is not null || _disposed)
        {
            return;
        }

        var messages = MessageCodec.Decode(envelope.Messages);
        if (envelope.Wake || (!envelope.Quiesce && !OnlyHeartbeatResponses(messages)))
        {
            Wake();
        }

        if (envelope.Greeting && envelope.FromReplica >= 0)
        {
            _transport.Send(RaftId(envelope.FromReplica), new RaftEnvelope(_replica, NoMessages));
        }

        if (envelope.LeavingIncarnation != 0)
        {
            _node.MemberLeft(RaftId(envelope.FromReplica), envelope.LeavingIncarnation); // after waking: a wake counts everyone active
        }

        try
        {
            foreach (var message in messages)
            {
                _node.Step(message);
            }
        }
        catch (Exception e)
        {
            Fail(e); // e.g. entries a lagging follower needs could not be read back from the store
            return;
        }

        Pump();
        if (envelope.Quiesce && !_quiesced && _node.Role == RaftRole.Follower && _node.Leader == RaftId(envelope.FromReplica) &&
            _node.CommitIndex == _node.LastIndex && _persisting.Count == 0 && !_node.HasReady)
        {
            _quiesced = true;
            _transport.SetTicking(false);
        }
    }

    public void Tick()
    {
        if (_failure is not null || _disposed || _quiesced)
        {
            return;
        }

        try
        {
            _node.Tick();
        }
        catch (Exception e)
        {
            Fail(e);
            return;
        }

        _idleTicks = _node.CanQuiesce ? _idleTicks + 1 : 0;

        _markQuiesce = _idleTicks >= IdleTicksBeforeQuiescing;
        Pump();
        if (_markQuiesce)
        {
            _markQuiesce = false;
            _idleTicks = 0;
            _quiesced = true;
            _transport.SetTicking(false);
        }
    }

    /// <summary>Wakes a quiesced replica: timers restart, and a follower asks its leader to resume heartbeats.</summary>
    public void Wake()
    {
        if (!_quiesced || _failure is not null || _disposed)
        {
            return;
        }

        _quiesced = false;
        _idleTicks = 0;
        _node.Unquiesce();
        _transport.SetTicking(true);
        if (_node.Role != RaftRole.Leader && _node.Leader != 0)
        {
            _transport.Send(_node.Leader, new RaftEnvelope(_replica, NoMessages, Wake: true));
        }
    }

    /// <summary>Tells the leader this replica's activation is leaving (it moves home), so its successor rejoins at once.</summary>
    public void AnnounceLeaving()
    {
        if (_failure is null && !_disposed && _node.Leader != 0 && _node.Leader != _node.Id)
        {
            _transport.Send(_node.Leader, new RaftEnvelope(_replica, NoMessages, Wake: true, LeavingIncarnation: _node.Incarnation));
        }
    }

    /// <summary>
    /// Leader: starts handing leadership to the most caught-up live voter (<see cref="RaftNode.TransferCandidate"/>);
    /// returns its Raft id, or 0 when there is none, a transfer already runs, or this replica does not lead.
    /// </summary>
    public long HandOffLeadership()
    {
        if (_failure is not null || _disposed || _node.Role != RaftRole.Leader || _node.LeadTransferee != 0)
        {
            return 0;
        }

        var to = _node.TransferCandidate();
        return to != 0 && StartTransfer(to) ? to : 0;
    }

    /// <summary>
    /// Leader: hands leadership to replica slot <paramref name="replica"/> if it is a live, caught-up voter and no transfer
    /// runs (leader balancing); returns whether the transfer started.
    /// </summary>
    public bool HandLeadershipTo(int replica)
    {
        var to = RaftId(replica);
        return _failure is null && !_disposed && _node.LeadTransferee == 0 && _node.IsCaughtUpVoter(to) && StartTransfer(to);
    }

    /// <summary>
    /// Leader: whether voter replica slot <paramref name="replica"/> may stop for a while: every other voter is a live,
    /// caught-up voter at its configured incarnation (<see cref="RaftNode.IsCaughtUpVoter"/>; this leader counts as
    /// one). Two voters of a group leaving at once (two replicas moving home after their silos returned) left a 3-voter
    /// group with one voter that ran, and no leader ever again: the second one must wait until the first one's next
    /// incarnation is a caught-up voter.
    /// </summary>
    public bool MayLeave(int replica)
    {
        if (_failure is not null || _disposed || _node.Role != RaftRole.Leader)
        {
            return false;
        }

        Wake(); // a quiesced leader's view of who is live is as old as its last tick
        var leaving = RaftId(replica);
        var voters = _node.Config.Voters;
        for (var i = 0; i < voters.Count; i++)
        {
            var id = voters[i].Id;
            if (id != leaving && id != _node.Id && !_node.IsCaughtUpVoter(id))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Starts a leadership transfer to voter <paramref name="to"/>. Wakes the driver first: a quiesced leader does not
    /// tick, and a transfer that never times out would hold back proposals for good.
    /// </summary>
    private bool StartTransfer(long to)
    {
        Wake();
        try
        {
            _node.TransferLeadership(to);
        }
        catch (Exception e)
        {
            Fail(e);
            return false;
        }

        Pump();
        return true;
    }

    /// <summary>
    /// Leader: proposes one single-server membership change (a replica move); returns null when it was accepted, else
    /// why not (not the leader, a change or transfer pending, not a valid change).
    /// </summary>
    public string? ChangeMembership(ConfigChange change)
    {
        if (_failure is not null || _disposed)
        {
            return "the replica stopped after a failure";
        }

        Wake();
        var result = _node.ProposeMembershipChange(change);
        if (!result.Accepted)
        {
            return $"{result.Status}: {result.Error}";
        }

        Pump();
        return null;
    }

    /// <summary>Proposes one entry; completes with the state machine's answer once it is applied here.</summary>
    /// <exception cref="NotLeaderException">Not the leader, or a transfer is running.</exception>
    public Task<object?> ProposeAsync(ReadOnlyMemory<byte> data, string replicaKey, Func<int, string> keyOfReplica)
    {
        ThrowIfUnavailable();
        Wake();
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
        Wake();
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

    /// <summary>Handles everything the node has produced: persist, send, apply, answer reads.</summary>
    public void Pump()
    {
        if (_failure is not null || _disposed)
        {
            return;
        }

        try
        {
            while (_node.HasReady)
            {
                var ready = _node.GetReady();
                if (ready.ToPersist is { } batch)
                {
                    StartPersist(batch);
                }

                foreach (var message in ready.Messages)
                {
                    Outbox(message);
                }

                foreach (ref readonly var entry in ready.CommittedEntries)
                {
                    Applied(entry);
                }

                foreach (var read in ready.ReadStates)
                {
                    if (_readIndexRequests.Remove(read.Context, out var waiting))
                    {
                        _readsWaitingForApply.Add((read.Index, waiting.Done));
                    }
                }

                _node.Advance();
            }
        }
        catch (Exception e)
        {
            // Whatever failed between GetReady and Advance (a store that refused or failed the write, state that does
            // not decode) leaves the node mid-Ready: it must not be used again. The replica stops and reactivates from
            // what is durable, which is exactly what a crash at this point would leave.
            Fail(e);
            return;
        }

        AnswerReads();
        FlushOutbox();
        WriteApplied();
        Compact();
        LogLeadershipChange();
    }

    /// <summary>Takes the snapshot and compacts the log when applying asked for it (see the class comment).</summary>
    private void Compact()
    {
        if (_failure is not null || _disposed)
        {
            return;
        }

        WriteBatch write;
        try
        {
            if (_machine.TakeCompaction(_storage.Metadata.Snapshot) is not { } compaction ||
                compaction.Index <= _node.SnapshotIndex || compaction.Index > _node.AppliedIndex)
            {
                return;
            }

            var snapshot = _node.CreateSnapshot(compaction.Index, compaction.Data);
            write = _storage.Compact(snapshot, _skipSync);
            _logger.LogDebug("Replica {Key} compacted its log up to Raft index {Index}", _key, snapshot.Index);
        }
        catch (Exception e)
        {
            Fail(e);
            return;
        }

        _ = WriteCompactionAsync(write);
    }

    private async Task WriteCompactionAsync(WriteBatch write)
    {
        try
        {
            await _store.WriteAsync(write);
        }
        catch (Exception e)
        {
            Fail(e);
        }
        finally
        {
            write.Dispose();
        }
    }

    /// <summary>Logs when this replica starts or stops leading, or learns of another leader (elections are events operators look for).</summary>
    private void LogLeadershipChange()
    {
        var leader = _node.Leader;
        if (leader == _node.Id && _node.MaxVoterLag() is var lag && lag != _reportedLag)
        {
            ReplicationInstruments.ReportLag(_key, leads: true, lag);
            _reportedLag = lag;
        }

        if (leader == _loggedLeader && _node.Term == _loggedTerm)
        {
            return;
        }

        CountLeadershipChange(leader);
        FailReadIndexRequests(leader);

        if (leader != _loggedLeader)
        {
            if (leader == _node.Id)
            {
                _logger.LogInformation("Replica {Key} leads in term {Term}", _key, _node.Term);
            }
            else if (leader == 0)
            {
                _logger.LogInformation("Replica {Key} knows no leader in term {Term} ({Role})", _key, _node.Term, _node.Role);
            }
            else
            {
                _logger.LogInformation("Replica {Key} follows replica {Leader} in term {Term}", _key, Replica(leader), _node.Term);
            }
        }

        if (leader != 0 && leader != _loggedLeader)
        {
            GreetPeers();
        }

        _loggedLeader = leader;
        _loggedTerm = _node.Term;
    }

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

    private void CountLeadershipChange(long leader)
    {
        if (_node.Term != _loggedTerm && _node.Role == RaftRole.Candidate)
        {
            ReplicationInstruments.Elections.Add(1);
        }

        if (leader == _node.Id && _loggedLeader != _node.Id)
        {
            ReplicationInstruments.LeaderChanges.Add(1);
            ReplicationInstruments.Leaders.Add(1);
            _transport.LeadershipChanged(leads: true);
        }
        else if (leader != _node.Id && _loggedLeader == _node.Id)
        {
            _transport.LeadershipChanged(leads: false);
            ReplicationInstruments.Leaders.Add(-1);
            ReplicationInstruments.ReportLag(_key, leads: false, 0);
            _reportedLag = -1;
        }
    }

    /// <summary>
    /// Greets every other voter (each answers with an empty envelope). Followers never message each other while a
    /// leader lives, so a silo may not know where a sibling's activation runs (or still caches where it ran before it
    /// moved); when the leader's silo dies, the election's first messages would then wait for a grain-directory lookup,
    /// which fails until the dead silo is declared dead if that silo held the directory entry (seconds). Greeting both
    /// ways on every leader change keeps those addresses cached.
    /// </summary>
    private void GreetPeers()
    {
        foreach (var v in _node.Config.Voters)
        {
            if (v.Id != _node.Id)
            {
                _transport.Send(v.Id, new RaftEnvelope(_replica, NoMessages, Greeting: true));
            }
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        ReplicationInstruments.Replicas.Add(-1);
        if (_loggedLeader == _node.Id)
        {
            ReplicationInstruments.Leaders.Add(-1);
            ReplicationInstruments.ReportLag(_key, leads: false, 0);
        }

        FailPending(new TimeoutException("the replica deactivated before the operation finished; its outcome is unknown"));
        foreach (var (_, write, task) in _persisting)
        {
            // The store still commits what was queued; the batch's buffer is returned once it has.
            _ = task.ContinueWith(_ => write.Dispose(), TaskScheduler.Default);
        }

        _persisting.Clear();
    }

    /// <summary>Answers to heartbeats, above all to the last ones a quiescing leader sent, must not wake it again.</summary>
    private static bool OnlyHeartbeatResponses(Message[] messages)
    {
        foreach (var m in messages)
        {
            if (m.Type != MessageType.HeartbeatResponse)
            {
                return false;
            }
        }

        return true;
    }

    private void SchedulePump()
    {
        if (_pumpScheduled)
        {
            return;
        }

        // Proposals that arrive in the same burst are persisted and sent together: the pass runs after the calls
        // already queued on this activation had their turn.
        _pumpScheduled = true;
        _ = PumpSoonAsync();
    }

    private async Task PumpSoonAsync()
    {
        await Task.Yield();
        _pumpScheduled = false;
        Pump();
    }

    private void StartPersist(PersistBatch batch)
    {
        var write = _storage.Build(batch, _skipSync);
        Task task;
        try
        {
            task = _store.WriteAsync(write).AsTask();
        }
        catch
        {
            write.Dispose();
            throw;
        }

        _persisting.Enqueue((batch, write, task));
        if (!_completingPersists)
        {
            _completingPersists = true;
            _ = CompletePersistsAsync();
        }
    }

    private async Task CompletePersistsAsync()
    {
        try
        {
            await CompletePersistsInOrderAsync();
        }
        finally
        {
            _completingPersists = false;
        }
    }

    private async Task CompletePersistsInOrderAsync()
    {
        while (!_disposed && _persisting.TryPeek(out var head))
        {
            try
            {
                // Always a turn of its own: this loop starts inside a pass (StartPersist), where a write the store has
                // already finished would otherwise continue at once, calling the node while its Ready is outstanding.
                await head.Task.ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext | ConfigureAwaitOptions.ForceYielding);
            }
            catch (Exception e)
            {
                Fail(e);
                return;
            }

            if (_disposed || _failure is not null)
            {
                return;
            }

            _persisting.Dequeue();
            head.Write.Dispose();
            try
            {
                if (head.Batch.Snapshot is { } snapshot)
                {
                    _machine.Restore(snapshot);
                    ForgetProposalsUpTo(snapshot.Index);
                }

                _node.Persisted(head.Batch.Mark);
            }
            catch (Exception e)
            {
                Fail(e);
                return;
            }

            foreach (var message in head.Batch.MessagesAfterPersist)
            {
                Outbox(message);
            }

            Pump();
        }
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
        if (_proposals.Count == 0)
        {
            return;
        }

        List<long>? covered = null;
        foreach (var (at, proposal) in _proposals)
        {
            if (at <= index)
            {
                proposal.Done.TrySetException(new TimeoutException(
                    $"the replica received a snapshot up to Raft index {index} before its append at {at} was applied here; its outcome is unknown"));
                (covered ??= []).Add(at);
            }
        }

        foreach (var at in covered ?? [])
        {
            _proposals.Remove(at);
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

    private void Outbox(Message message)
    {
        if (!_outbox.TryGetValue(message.To, out var list))
        {
            _outbox[message.To] = list = [];
        }

        list.Add(message);
    }

    private void FlushOutbox()
    {
        foreach (var (to, messages) in _outbox)
        {
            if (messages.Count > 0)
            {
                _transport.Send(to, new RaftEnvelope(_replica, MessageCodec.Encode(messages), Quiesce: _markQuiesce));
                messages.Clear();
            }
        }
    }

    private void WriteApplied()
    {
        if (_appliedWrite is { IsCompleted: false } || !_machine.HasUnwritten)
        {
            return;
        }

        var write = new WriteBatch { SkipSync = true };
        _machine.TakeUnwritten(write);

        _appliedWrite = WriteAppliedAsync(write);
    }

    private async Task WriteAppliedAsync(WriteBatch write)
    {
        try
        {
            await _store.WriteAsync(write);
        }
        catch (Exception e)
        {
            Fail(e);
            return;
        }
        finally
        {
            write.Dispose();
        }

        _machine.Written();
        if (!_disposed && _failure is null)
        {
            _appliedWrite = null;
            WriteApplied();
        }
    }

    private void ThrowIfUnavailable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_failure is not null)
        {
            throw new InvalidOperationException($"the replica stopped after a failure and is reactivating: {_failure.Message}", _failure);
        }
    }

    private void Fail(Exception e)
    {
        if (_failure is not null)
        {
            return;
        }

        _failure = e;
        _logger.LogError(e, "Replica (store log {StoreLog}) stopped and will reactivate from its durable state: {Message}", _storage.StoreLog, e.Message);
        FailPending(new InvalidOperationException($"the replica stopped after a failure; the outcome is unknown: {e.Message}", e));
        _transport.SetTicking(false);
        _transport.Failed(e);
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
