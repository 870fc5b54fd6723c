using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Partitions;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;
using Pyralog.Testing;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>The driver outside Orleans: one replica on a real store, its turns run one at a time by a <see cref="TurnContext"/>.</summary>
public sealed class ReplicaDriverTests : IAsyncLifetime, IReplicaTransport
{
    private const ulong StoreLog = 9 << 24;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"pyralog-driver-{Guid.NewGuid():N}");
    private readonly TurnContext _turns = new();
    private PyramidStore _store = null!;
    private ReplicaDriver _driver = null!;
    private bool _leads;

    public async Task InitializeAsync()
    {
        _store = PyramidStore.Open(_directory);
        _driver = await OpenDriverAsync(_store, new ClusterConfig([new Member(1, 7)], []), this, NullLogger.Instance);
    }

    /// <summary>Replica slot 0 of log 9 (Raft id 1, incarnation 7) on <paramref name="store"/>, its group founded with <paramref name="config"/>.</summary>
    internal static async Task<ReplicaDriver> OpenDriverAsync(PyramidStore store, ClusterConfig config, IReplicaTransport transport, ILogger logger)
    {
        var storage = await ReplicaStorage.OpenAsync(store, StoreLog);
        await storage.RecordIncarnationAsync(7, default);
        await storage.BootstrapAsync(config, default);
        var state = await PartitionState.LoadAsync(store, StoreLog);
        var node = new RaftNode(new RaftOptions { Id = 1, Incarnation = 7, Storage = storage, Random = new SeededRaftRandom(1) });
        return new ReplicaDriver(node, storage, store, state, transport, logger, new ReplicaGrainKey(9, 0, 0), skipSync: false);
    }

    public async Task DisposeAsync()
    {
        _driver.Dispose();
        await _store.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void Proposals_made_while_an_earlier_persist_completes_are_all_committed()
    {
        _turns.ElectAlone(_driver);
        Assert.True(_leads, "the driver did not tell its host that it leads");

        // One append in flight at a time. Each proposal's persist completes and commits it; the commit's new hard state
        // is a second persist, cut inside the completion's own pass, and the next proposal's persist queues behind it.
        // Two completion loops at once (the bug this guards) let one of them take the next proposal's batch off the
        // queue before it was durable: that proposal never committed, and with nothing after it nothing healed it.
        var acks = new List<AppendAck>();
        for (var i = 0; i < 50; i++)
        {
            acks.Add(AppendAndWait(i));
        }

        _turns.Drain();
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (ulong)i), acks.Select(a => a.FirstOffset));
        Assert.Equal(_driver.Node.LastIndex, _driver.Node.CommitIndex);
    }

    [Fact]
    public async Task A_replica_whose_unsynced_commit_index_was_lost_resumes_without_applying_an_entry_twice()
    {
        _turns.ElectAlone(_driver);
        for (var i = 0; i < 5; i++)
        {
            AppendAndWait(i);
        }

        _turns.Drain(); // the applied state is written (unsynced, like the commit index)
        _driver.Dispose();
        await _store.DisposeAsync();

        // A power loss kept the applied state but not the last commit-only hard-state writes: the commit index on disk
        // is back at the bootstrap entry, below what the state machine applied.
        _store = PyramidStore.Open(_directory);
        var storage = await ReplicaStorage.OpenAsync(_store, StoreLog);
        using (var rewound = storage.Build(null, [], storage.HardState with { Commit = 1 }, hardStateChanged: true, skipSync: false))
        {
            await _store.WriteAsync(rewound);
        }

        var state = await PartitionState.LoadAsync(_store, StoreLog);
        Assert.True(state.AppliedIndex > 1, $"the applied state ({state.AppliedIndex}) should be ahead of the rewound commit index");
        var node = new RaftNode(new RaftOptions
        {
            Id = 1, Incarnation = 7, Storage = storage, Random = new SeededRaftRandom(2), Applied = storage.RestartApplied(state.AppliedIndex),
        });
        Assert.Equal(1, node.AppliedIndex);
        _driver = new ReplicaDriver(node, storage, _store, state, this, NullLogger.Instance, new ReplicaGrainKey(9, 0, 0), skipSync: false);

        // Re-elected, the replica commits again the entries the machine already applied (they come again) and the next
        // append continues right after them: offsets 0..5, each once.
        _turns.ElectAlone(_driver);
        var ack = AppendAndWait(5);
        Assert.Equal(5ul, ack.FirstOffset);
        var records = new List<CommittedRecord>();
        state.Read(0, long.MaxValue, records);
        Assert.Equal(Enumerable.Range(0, 6).Select(i => (ulong)i), records.Select(r => r.Offset));
        Assert.Equal(Enumerable.Range(0, 6).Select(i => (byte)i), records.Select(r => r.Value[0]));
    }


    private AppendAck AppendAndWait(int i)
    {
        Task<object?>? append = null;
        _turns.Run(() => append = Propose(i));
        WaitFor(() => append!.IsCompleted, $"append {i} to commit (only one append is in flight, so nothing will come to persist after a stalled one)");
        Assert.True(append!.IsCompletedSuccessfully, $"append {i} failed: {append.Status}");
        return (AppendAck)append.Result!;
    }

    [Fact]
    public async Task Appends_pending_when_the_replica_stops_after_a_failure_fail_as_outcome_unknown()
    {
        _turns.ElectAlone(_driver);
        AppendAndWait(0);
        _turns.Drain();
        Task<object?>? queued = null;
        Task<object?>? refused = null;
        using (var held = HeldCommitThread.Hold(_store))
        {
            _turns.Run(() => queued = Propose(1));
            _turns.RunPending(); // the proposal's pass: its persist waits behind the held write, and will be durable
            Assert.True(_driver.PersistInFlight);
            var closing = _store.DisposeAsync(); // the store refuses every write from now on
            _turns.Run(() => refused = Propose(2));
            _turns.RunPending(); // its persist is refused: the replica stops after a failure
            held.Release();
            await closing;
        }

        // The first append's entry is in the store, so it may be committed by a next leader: a producer must resend the
        // same batch (its partition drops the duplicate), which it does for a timeout, not for an InvalidOperationException.
        Assert.Contains("outcome is unknown", (await Assert.ThrowsAsync<TimeoutException>(() => queued!)).Message);
        Assert.Contains("outcome is unknown", (await Assert.ThrowsAsync<TimeoutException>(() => refused!)).Message);
    }

    [Fact]
    public void A_founder_holding_its_first_election_stands_only_once_the_hold_is_over()
    {
        _turns.Run(() =>
        {
            _driver.Wake("activation");
            _driver.HoldFirstElection(60);
        });
        var term = _driver.Node.Term;
        for (var i = 0; i < 60; i++)
        {
            _turns.Run(() => _driver.Tick());
            _turns.Drain();
        }

        // A single replica stands after one election timeout (10 to 20 ticks): the 60 ticks held did not count.
        Assert.Equal(RaftRole.Follower, _driver.Node.Role);
        Assert.Equal(term, _driver.Node.Term);
        for (var i = 0; i < 40 && _driver.Node.Role != RaftRole.Leader; i++)
        {
            _turns.Run(() => _driver.Tick());
            _turns.Drain();
        }

        Assert.Equal(RaftRole.Leader, _driver.Node.Role);
    }

    [Fact]
    public async Task A_follower_asked_to_quiesce_while_it_writes_the_final_commit_index_quiesces_once_the_write_is_done()
    {
        var leader = await FollowLeaderOfTwoAsync(entries: 1);

        // The quiesce-marked heartbeat is the first to carry the final commit index (partition leaders do not broadcast
        // a commit on its own): the follower's write of it is in flight when the mark arrives.
        QuiesceMarkedHeartbeat(commit: 2);
        Assert.False(_driver.Quiesced, "the follower quiesced with its commit-index write still in flight");
        Assert.Equal(2, _driver.Node.CommitIndex);

        WaitFor(() => _driver.Quiesced, "the follower to quiesce once its write completed");
        Assert.False(leader.Ticking);
        Assert.Equal(2, _driver.Node.LastIndex);
    }

    [Fact]
    public async Task A_follower_asked_to_quiesce_without_its_whole_log_committed_asks_its_leader_to_wake_at_its_next_tick()
    {
        var leader = await FollowLeaderOfTwoAsync(entries: 2);
        QuiesceMarkedHeartbeat(commit: 2);
        _turns.Drain();
        Assert.False(_driver.Quiesced, "the follower quiesced with entry 3 not committed");
        Assert.DoesNotContain(leader.Sent, s => s.Envelope.Wake);

        _turns.Run(() => _driver.Tick());
        Assert.False(_driver.Quiesced);
        Assert.True(leader.Ticking);
        var (to, wake) = Assert.Single(leader.Sent, s => s.Envelope.Wake);
        Assert.Equal(2, to);
        Assert.Equal(0, wake.FromReplica);
    }

    /// <summary>
    /// A follower whose host can send from any thread acknowledges from the store's commit thread as soon as the
    /// entries are durable, and its own completion of the persist does not send the acknowledgement again.
    /// </summary>
    [Fact]
    public async Task A_follower_acknowledges_from_the_commit_thread_when_its_host_can_send_from_there()
    {
        var host = await FollowLeaderOfTwoAsync(entries: 3, new RecordingTransport(sendsFromAnyThread: true));
        WaitFor(() => !_driver.PersistInFlight, "the driver to complete its persist");

        var acknowledgement = Assert.Single(host.SentFromAnyThread, s => IsAcknowledgement(s.Envelope));
        Assert.Equal(2, acknowledgement.To);
        Assert.Equal("pyralog-commit", acknowledgement.Thread);
        Assert.Equal(4, MessageCodec.Decode(acknowledgement.Envelope.Messages)[0].Index);
        Assert.DoesNotContain(host.Sent, s => IsAcknowledgement(s.Envelope));
    }

    [Fact]
    public async Task A_disposed_driver_reports_its_queued_persists_only_once_the_store_committed_them()
    {
        var host = await FollowLeaderOfTwoAsync(entries: 1, new RecordingTransport(sendsFromAnyThread: true));
        WaitFor(() => !_driver.PersistInFlight, "the driver to complete its persist");
        var before = _store.GetLogBounds(StoreLog).Next;

        // The commit thread is held inside an earlier group: the follower's next persist queues behind it.
        using var held = HeldCommitThread.Hold(_store);

        var appended = new[] { new LogEntry(3, 2, EntryType.Normal, ReadOnlyMemory<byte>.Empty), new LogEntry(4, 2, EntryType.Normal, ReadOnlyMemory<byte>.Empty) };
        _turns.Run(() => _driver.Deliver(FromLeader(new Message
        {
            Type = MessageType.Append, To = 1, ToIncarnation = 7, From = 2, FromIncarnation = 8, Term = 2, Index = 2, LogTerm = 2,
            Entries = appended, Commit = 1,
        }, quiesce: false)));
        Assert.True(_driver.PersistInFlight);

        // The replica deactivates with its persist queued: the next activation must wait for it (ReplicaGrain.OnDeactivateAsync).
        _driver.Dispose();
        Assert.False(_driver.QueuedPersists.IsCompleted);
        Assert.Equal(before, _store.GetLogBounds(StoreLog).Next);

        held.Release();
        await _driver.QueuedPersists.WaitAsync(TimeSpan.FromSeconds(30));
        await held.Written;
        Assert.Equal(before + 2, _store.GetLogBounds(StoreLog).Next); // what a next activation reads holds what was acknowledged
        Assert.Contains(host.SentFromAnyThread, s => IsAcknowledgement(s.Envelope) && MessageCodec.Decode(s.Envelope.Messages)[0].Index == 4);
    }

    [Fact]
    public async Task A_reactivated_follower_forwards_its_reads_under_contexts_its_previous_activation_did_not_use()
    {
        var contexts = new List<long>();
        for (var activation = 0; activation < 2; activation++)
        {
            var host = await FollowLeaderOfTwoAsync(entries: 0);
            host.Sent.Clear();
            _turns.Run(() => _ = _driver.ReadIndexAsync("9/0/0", r => $"9/0/{r}"));
            _turns.RunPending();
            var forwarded = host.Sent.SelectMany(s => MessageCodec.Decode(s.Envelope.Messages)).Single(m => m.Type == MessageType.ReadIndex);
            contexts.Add(forwarded.Context);
        }

        // Same incarnation both times: the leader's answer to the first read names only it and the context.
        Assert.NotEqual(contexts[0], contexts[1]);
    }

    /// <summary>
    /// Reopens replica slot 0 as a follower in a group of two (its leader Raft id 2, incarnation 8, in term 2) holding
    /// <paramref name="entries"/> entries after the bootstrap entry, none of them committed yet; returns its host.
    /// </summary>
    private async Task<RecordingTransport> FollowLeaderOfTwoAsync(int entries, RecordingTransport? host = null)
    {
        _driver.Dispose();
        await _store.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
        _store = PyramidStore.Open(_directory);
        host ??= new RecordingTransport();
        _driver = await OpenDriverAsync(_store, new ClusterConfig([new Member(1, 7), new Member(2, 8)], []), host, NullLogger.Instance);
        var appended = new LogEntry[entries];
        for (var i = 0; i < entries; i++)
        {
            appended[i] = new LogEntry(2 + i, 2, EntryType.Normal, ReadOnlyMemory<byte>.Empty);
        }

        _turns.Run(() => _driver.Deliver(FromLeader(new Message
        {
            Type = MessageType.Append, To = 1, ToIncarnation = 7, From = 2, FromIncarnation = 8, Term = 2, Index = 1, LogTerm = 1,
            Entries = appended, Commit = 1,
        }, quiesce: false)));
        WaitFor(() => host.Sent.Exists(s => IsAcknowledgement(s.Envelope)) || host.SentFromAnyThread.Any(s => IsAcknowledgement(s.Envelope)),
            "the follower to acknowledge the entries");
        Assert.Equal(RaftRole.Follower, _driver.Node.Role);
        Assert.Equal(1 + entries, _driver.Node.LastIndex);
        Assert.Equal(1, _driver.Node.CommitIndex);
        Assert.True(host.Ticking);
        host.Sent.Clear();
        return host;
    }

    private static bool IsAcknowledgement(RaftEnvelope envelope) =>
        MessageCodec.Decode(envelope.Messages) is [{ Type: MessageType.AppendResponse, Reject: false }];

    /// <summary>The leader's last heartbeat before it quiesces, telling commit index <paramref name="commit"/>.</summary>
    /// <summary>An envelope that does not decode (a buggy caller of the public grain interface) is dropped like a lost
    /// message: it neither throws into the replica's inbound queue, where it would fail every envelope after it, nor
    /// stops the replica taking the next one.</summary>
    [Fact]
    public async Task An_envelope_that_does_not_decode_is_dropped_and_the_next_one_is_taken()
    {
        await FollowLeaderOfTwoAsync(entries: 1);
        WaitFor(() => !_driver.PersistInFlight, "the driver to complete its persist");
        var valid = MessageCodec.Encode([new Message { Type = MessageType.Heartbeat, To = 1, ToIncarnation = 7, From = 2, FromIncarnation = 8, Term = 2 }]);
        foreach (var garbage in new[] { new byte[] { 1, 0, 0, 0 }, valid[..^3], new byte[] { 0xff, 0xff, 0xff, 0x7f } })
        {
            _turns.Run(() => _driver.Deliver(new RaftEnvelope(1, garbage)));
        }

        var entries = new[] { new LogEntry(3, 2, EntryType.Normal, ReadOnlyMemory<byte>.Empty) };
        _turns.Run(() => _driver.Deliver(FromLeader(new Message
        {
            Type = MessageType.Append, To = 1, ToIncarnation = 7, From = 2, FromIncarnation = 8, Term = 2, Index = 2, LogTerm = 2,
            Entries = entries, Commit = 1,
        }, quiesce: false)));
        WaitFor(() => _driver.Node.LastIndex == 3, "the append after the bad envelopes to be taken");
    }

    private void QuiesceMarkedHeartbeat(long commit) => _turns.Run(() => _driver.Deliver(FromLeader(new Message
    {
        Type = MessageType.Heartbeat, To = 1, ToIncarnation = 7, From = 2, FromIncarnation = 8, Term = 2, Commit = commit,
    }, quiesce: true)));

    private static RaftEnvelope FromLeader(Message message, bool quiesce) => new(1, MessageCodec.Encode([message]), Quiesce: quiesce);

    private void WaitFor(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); // a loaded disk can take seconds per fsync
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            _turns.RunPending();
            Thread.Sleep(1);
        }
    }

    void IReplicaTransport.Send(long toRaftId, RaftEnvelope envelope) => throw new InvalidOperationException("a single replica sends nothing");

    void IReplicaTransport.SetTicking(bool on)
    {
    }

    void IReplicaTransport.LeadershipChanged(bool leads) => _leads = leads;

    void IReplicaTransport.Failed(Exception error) => throw new InvalidOperationException("the store failed", error);

    private Task<object?> Propose(int i) =>
        _driver.ProposeAsync(RecordBatchCodec.Encode([new ProducerRecord(null, [(byte)i])], 1024), "9/0/0", r => $"9/0/{r}");
}
