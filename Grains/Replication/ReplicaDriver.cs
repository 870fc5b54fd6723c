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
 * Messages in and out: ReplicaDriver.Messages.cs. Ticks, quiescence and waking: ReplicaDriver.Quiescence.cs.
 */
internal sealed partial class ReplicaDriver : IDisposable
{
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
                    if (!_readIndexRequests.Remove(read.Context, out var waiting))
                    {
                        continue;
                    }

                    if (read.Refused)
                    {
                        waiting.Done.TrySetException(NotLeader(_node.Leader, waiting.ReplicaKey, waiting.KeyOfReplica));
                    }
                    else
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
