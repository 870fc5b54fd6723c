using System.Runtime.InteropServices;
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
 * Persistence and compaction: ReplicaDriver.Persistence.cs.
 *
 * Proposals resolve when their index is applied: the entry applied at that index either has the proposal's term
 * (committed: the proposer gets the state machine's answer, even if this replica stopped leading meanwhile) or
 * another term (another leader's entry replaced it: nothing was appended). Raft entries never move, so that is
 * exact; only a timeout or a deactivation leaves an outcome unknown.
 *
 * Quiescence: see RaftNode.Quiescence. The leader quiesces after a few idle ticks, marking its last heartbeats; a
 * follower that receives them stops ticking too once it has committed its whole log and has no write in flight. The
 * marked heartbeat may be the first to carry the final commit index (partition leaders do not broadcast a commit on
 * its own), so the follower's own write of that commit is still in flight when it arrives: the follower then keeps the
 * request and quiesces when the write completes. One that finds, with nothing in flight, that it still lacks part of
 * the leader's log asks the leader to wake. A follower left ticking beside a silent leader would otherwise campaign.
 * Any input wakes a replica; a follower that wakes asks its leader to resume heartbeats, so waking is not an election.
 */
internal sealed partial class ReplicaDriver : IDisposable
{
    private const int IdleTicksBeforeQuiescing = 3;

    /// <summary>
    /// Bytes an envelope aims at: under .NET's large-object threshold (85,000), so the arrays the codec and Orleans
    /// allocate for it on both silos die young instead of fragmenting the large-object heap (a 1 GiB fill in 1 MiB
    /// envelopes left silos at 4 GiB resident for under 1 GiB live).
    /// </summary>
    public const int EnvelopeBytes = 80_000;

    /// <summary>Entry bytes per Append (<see cref="RaftOptions.MaxBytesPerMessage"/>): one Append fits an envelope.</summary>
    public const long AppendBytes = 64 << 10;

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

    private readonly Dictionary<long, List<Message>> _outbox = [];
    private readonly List<byte[]> _encoded = []; // scratch of FlushOutbox, empty between calls

    // Invariant: keyed by the proposal's log index; resolved when that index is applied (or on failure/dispose).
    private readonly Dictionary<long, (long Term, TaskCompletionSource<object?> Done)> _proposals = [];
    // Invariant: every entry is a read the node still holds (as leader) or forwarded to the leader of _loggedTerm; the
    // node drops them all when its leader or term changes, and so does LogLeadershipChange.
    private readonly Dictionary<long, (TaskCompletionSource<bool> Done, string ReplicaKey, Func<int, string> KeyOfReplica)> _readIndexRequests = [];
    private readonly List<(long Index, TaskCompletionSource<bool> Done)> _readsWaitingForApply = [];
    // The last read-index context used. Invariant: starts at a random point, so contexts differ across activations: a
    // leader answers a forwarded read by incarnation and context, a reactivated replica keeps its incarnation, and an
    // answer to its previous activation's read (an older commit index) must not be taken for a new read's.
    private long _readContext = Random.Shared.NextInt64(1L << 62);
    private bool _pumpScheduled;

    private bool _quiesced = true; // a new driver waits for its first input; the host wakes it at once when it has work
    private bool _markQuiesce;

    // The leader (Raft id) and term whose quiesce-marked heartbeat this follower could not yet follow (its write of the
    // commit index was in flight), or 0. Invariant: non-zero only while awake; cleared once followed, by any unmarked
    // envelope from that leader (it is awake again) and when this replica's leader or term changes.
    private long _quiesceAskedBy;
    private long _quiesceAskedTerm;

    // Invariant: ticks this founder still skips while it is a follower without a leader (HoldFirstElection); 0 once it
    // has seen a leader or stood for election.
    private int _electionHold;
    private int _idleTicks;

    // Ticks this replica stays awake whatever its idleness (see MayLeave): its view of which voters run must come from
    // heartbeats, not from the benefit of the doubt a wake gives every voter.
    private int _awakeTicksLeft;

    // The replica slot this leader last let leave (MayLeave) and the tick it did so, or -1. Invariant: while that grant is
    // younger than LeaveGrantTicks, no other voter may leave. The leaver's announcement (AnnounceLeaving) reaches this
    // leader after its answer, and two replicas of a group moving home in one homecoming sweep asked in between: both
    // were let go, and the 3-voter group kept one running voter and never elected again.
    private int _leaveGranted = -1;
    private long _leaveGrantedAt;

    // Ticks this replica stays silent after announcing it leaves (Leaving). Invariant: while non-zero, envelopes from the
    // group are dropped and the node does not tick.
    private int _leavingTicksLeft;
    private Exception? _failure;
    private bool _disposed;
    private long _loggedLeader = -1;
    private long _loggedTerm;

    // The configuration in force when the driver opened or at the last Ready (LogConfigurationChange).
    private ClusterConfig _loggedConfig;

    // The follower lag last reported to ReplicationInstruments while leading, or -1: reported only when it changes.
    private long _reportedLag = -1;

    // Ticks run so far; consecutive ticks without a leader. Per sibling slot: the tick at which an envelope last arrived
    // from it (0 = never) and the incarnation its last message named (what ReportLeaderless tells).
    private long _ticks;
    private long _leaderlessTicks;
    private long _outsideTicks; // consecutive ticks outside the configuration in force (LongOutsideGroup)
    private readonly long[] _heardAt = new long[ReplicaGrainKey.MaxReplicationFactor];
    private readonly long[] _heardIncarnation = new long[ReplicaGrainKey.MaxReplicationFactor];

    public ReplicaDriver(RaftNode node, ReplicaStorage storage, PyramidStore store, IReplicaStateMachine machine, IReplicaTransport transport, ILogger logger, ReplicaGrainKey key, bool skipSync)
    {
        _node = node;
        _loggedConfig = node.Config;
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

        Message[] messages;
        try
        {
            messages = MessageCodec.Decode(envelope.Messages);
        }
        catch (InvalidDataException e)
        {
            // Dropped like a message lost on the way (Raft recovers from those); thrown, it would stay at the head of the
            // replica's inbound queue and fail every envelope after it.
            _logger.LogWarning("Replica {Key} dropped an envelope from replica {From} that does not decode: {Reason}", _key, envelope.FromReplica, e.Message);
            return;
        }

        NoteHeard(envelope.FromReplica, messages);
        if (_leavingTicksLeft > 0)
        {
            return; // as if already gone (Leaving)
        }

        if (envelope.Wake)
        {
            if (_quiesced)
            {
                Wake("wake-request");
            }
            else
            {
                // Awake, perhaps counting down to quiescence: a silo died (or a follower woke), and a member heard just
                // before may be gone; it must not be frozen by the quiet spell that was about to start.
                _idleTicks = 0;
                _node.ForgetHeardForQuiescence();
            }
        }
        else if (!envelope.Quiesce && !OnlyHeartbeatResponses(messages))
        {
            Wake("message");
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

            if (_traced.Count > 0)
            {
                AdvanceTraces();
            }
        }
        catch (Exception e)
        {
            Fail(e); // e.g. entries a lagging follower needs could not be read back from the store
            return;
        }

        Pump();
        if (envelope.Quiesce && !_quiesced && _node.Role == RaftRole.Follower && _node.Leader == RaftId(envelope.FromReplica))
        {
            _quiesceAskedBy = _node.Leader;
            _quiesceAskedTerm = _node.Term;
            QuiesceAsAskedIfDone(atTick: false);
        }
        else if (_quiesceAskedBy == RaftId(envelope.FromReplica))
        {
            _quiesceAskedBy = 0;
        }
    }

    /// <summary>
    /// A follower whose leader asked it to quiesce: stops ticking once it has committed its whole log with no write in
    /// flight. At a tick, one that still lacks committed entries with nothing in flight asks the leader to wake.
    /// </summary>
    private void QuiesceAsAskedIfDone(bool atTick)
    {
        if (_quiesceAskedBy == 0 || _quiesced || _failure is not null || _disposed)
        {
            return;
        }

        if (_node.Role != RaftRole.Follower || _node.Leader != _quiesceAskedBy || _node.Term != _quiesceAskedTerm)
        {
            _quiesceAskedBy = 0;
            return;
        }

        if (_persisting.Count > 0 || _node.HasReady)
        {
            return;
        }

        if (_node.CommitIndex != _node.LastIndex)
        {
            if (atTick)
            {
                _quiesceAskedBy = 0;
                _transport.Send(_node.Leader, new RaftEnvelope(_replica, NoMessages, Wake: true));
            }

            return;
        }

        _quiesceAskedBy = 0;
        _quiesced = true;
        _transport.SetTicking(false);
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            _logger.LogDebug("Replica {Key} quiesces as a follower of replica {Leader} in term {Term}", _key, Replica(_node.Leader), _node.Term);
        }
    }

    public void Tick()
    {
        if (_failure is not null || _disposed || _quiesced)
        {
            return;
        }

        if (_leavingTicksLeft > 0)
        {
            _leavingTicksLeft--;
            return;
        }

        if (_quiesceAskedBy != 0)
        {
            QuiesceAsAskedIfDone(atTick: true);
            if (_quiesced)
            {
                return;
            }
        }

        if (_electionHold > 0)
        {
            if (_node.Role == RaftRole.Follower && _node.Leader == 0)
            {
                _electionHold--;
                return;
            }

            _electionHold = 0;
        }

        _ticks++;
        try
        {
            _node.Tick();
        }
        catch (Exception e)
        {
            Fail(e);
            return;
        }

        ReportLeaderless();
        _outsideTicks = _node.IsMember ? 0 : _outsideTicks + 1;

        _idleTicks = _node.CanQuiesce && _awakeTicksLeft == 0 ? _idleTicks + 1 : 0;
        if (_awakeTicksLeft > 0)
        {
            _awakeTicksLeft--;
        }

        _markQuiesce = _idleTicks >= IdleTicksBeforeQuiescing;
        Pump();
        if (_markQuiesce)
        {
            _markQuiesce = false;
            _idleTicks = 0;
            _quiesced = true;
            _transport.SetTicking(false);
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                _logger.LogDebug("Replica {Key} quiesces as {Role} in term {Term}", _key, _node.Role, _node.Term);
            }
        }
    }

    /// <summary>
    /// Wakes a quiesced replica: timers restart, and a follower asks its leader to resume heartbeats. <paramref name="reason"/>
    /// tags the wake in <see cref="ReplicationInstruments.Wakes"/> (a constant: series stay few).
    /// </summary>
    public void Wake(string reason)
    {
        if (!_quiesced || _failure is not null || _disposed)
        {
            return;
        }

        ReplicationInstruments.Wakes.Add(1, new KeyValuePair<string, object?>("pyralog.wake.reason", reason));
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            // Guarded: wakes come several times a second per busy partition, and the arguments box.
            _logger.LogDebug("Replica {Key} wakes ({Reason}) as {Role} of term {Term}, leader {Leader}", _key, reason, _node.Role, _node.Term, Replica(_node.Leader));
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

        Wake("membership");
        var result = _node.ProposeMembershipChange(change);
        if (!result.Accepted)
        {
            return $"{result.Status}: {result.Error}";
        }

        Pump();
        return null;
    }

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
        LogConfigurationChange();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        EndAllTraces("the replica deactivated");
        ReplicationInstruments.Replicas.Add(-1);
        if (_loggedLeader == _node.Id)
        {
            ReplicationInstruments.Leaders.Add(-1);
            ReplicationInstruments.ReportLag(_key, leads: false, 0);
        }

        FailPending(new TimeoutException("the replica deactivated before the operation finished; its outcome is unknown"));
        var queued = new List<Task>(_persisting.Count + 2);
        foreach (var (_, write, task, _) in _persisting)
        {
            // The store still commits what was queued; the batch's buffer is returned once it has.
            queued.Add(task.ContinueWith(_ => write.Dispose(), TaskScheduler.Default));
        }

        _persisting.Clear();
        foreach (var write in (ReadOnlySpan<Task>)[_appliedStoreWrite, _compactionStoreWrite])
        {
            if (!write.IsCompleted)
            {
                queued.Add(write.ContinueWith(static _ => { }, TaskScheduler.Default)); // its failure is not the drop's
            }
        }

        QueuedPersists = queued.Count == 0 ? Task.CompletedTask : Task.WhenAll(queued);
    }

    /// <summary>
    /// Once disposed: completes when the store has committed (or failed) every persist this driver had queued, and its
    /// writes of applied state and compactions (a replica whose log was deleted drops its data only after them). The
    /// replica's next activation must not read its state before: it would take its log for shorter than the store's, after
    /// a persist that commits late acknowledged entries its siblings counted (from the commit thread, see
    /// AfterPersistSends), and then vote, or refuse a leader's appends as stale, as if it never had them.
    /// </summary>
    public Task QueuedPersists { get; private set; } = Task.CompletedTask;

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

    private void Outbox(Message message)
    {
        if (!_outbox.TryGetValue(message.To, out var list))
        {
            _outbox[message.To] = list = [];
        }

        list.Add(message);
    }

    /// <summary>
    /// Sends each target's messages in envelopes of at most <see cref="EnvelopeBytes"/> (one message alone may be
    /// larger), so the arrays on both sides stay off the large-object heap.
    /// </summary>
    private void FlushOutbox()
    {
        foreach (var (to, messages) in _outbox)
        {
            MessageCodec.EncodeInEnvelopes(CollectionsMarshal.AsSpan(messages), EnvelopeBytes, _encoded);
            foreach (var encoded in _encoded)
            {
                _transport.Send(to, new RaftEnvelope(_replica, encoded, Quiesce: _markQuiesce));
            }

            _encoded.Clear();
            messages.Clear();
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
        EndAllTraces("the replica stopped after a failure");
        _logger.LogError(e, "Replica (store log {StoreLog}) stopped and will reactivate from its durable state: {Message}", _storage.StoreLog, e.Message);
        // A timeout, like every "outcome unknown" here: a pending append's persist may still reach the store (it was
        // queued before the failure), so a producer must count it as possibly appended and resend it, not renumber it.
        FailPending(new TimeoutException($"the replica stopped after a failure; the outcome is unknown: {e.Message}", e));
        _transport.SetTicking(false);
        _transport.Failed(e);
    }
}
