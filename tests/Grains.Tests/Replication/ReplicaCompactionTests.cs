using Microsoft.Extensions.Logging.Abstractions;
using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Partitions;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;
using Pyralog.Testing;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// A retention command compacts a replica's log (driver outside Orleans, one replica on a real store, its turns one at
/// a time): the snapshot carries the partition's state as it was at the compaction point, the store log's prefix goes,
/// a replica restored from the snapshot and a restarted one (also with its applied state lost) hold the same state,
/// a compaction a crash lost after its applied state was written is taken when the replica reopens, and a producer's
/// batch whose entry was compacted away is still answered as a duplicate with its first offsets.
/// </summary>
public sealed class ReplicaCompactionTests : IAsyncLifetime, IReplicaTransport
{
    private const ulong StoreLog = 11 << 24;
    private const long Producer = 4242;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"pyralog-compaction-{Guid.NewGuid():N}");
    private readonly TurnContext _turns = new();
    private PyramidStore _store = null!;
    private ReplicaStorage _storage = null!;
    private PartitionState _state = null!;
    private ReplicaDriver _driver = null!;

    public async Task InitializeAsync()
    {
        _store = PyramidStore.Open(_directory);
        _storage = await ReplicaStorage.OpenAsync(_store, StoreLog);
        await _storage.RecordIncarnationAsync(7, default);
        await _storage.BootstrapAsync(new ClusterConfig([new Member(1, 7)], []), default);
        await StartAsync();
    }

    public async Task DisposeAsync()
    {
        _driver.Dispose();
        await _store.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Retention_compacts_the_log_and_the_snapshot_restores_offsets_epochs_and_producers(bool loseAppliedState)
    {
        _turns.ElectAlone(_driver);
        var first = (AppendAck)Await(Propose(RecordBatchCodec.Encode([Rec(0), Rec(1)], 1024, new BatchHeader(1000, Producer, 0))))!;
        Assert.Equal(0ul, first.FirstOffset);
        for (var i = 2; i < 6; i++)
        {
            Assert.Equal((ulong)i, ((AppendAck)Await(Propose(RecordBatchCodec.Encode([Rec(i)], 1024, new BatchHeader(1000 + i, 0, 0))))!).FirstOffset);
        }

        var epoch = _state.Epoch;
        var (holding4, _, _) = _state.Locate(4);
        Await(Propose(RetentionCommand.Encode(3))); // offset 3 is the first of its entry: offsets 0-2 go
        Await(Propose(RetentionCommand.Encode(4))); // and then 3
        _turns.Drain();

        Assert.Equal(4ul, _state.FirstOffset);
        Assert.Equal(6ul, _state.NextOffset);
        Assert.Equal(holding4 - 1, _driver.Node.SnapshotIndex);
        Assert.Equal(holding4 - 1, _storage.Metadata.Snapshot.Index);
        Assert.Equal((ulong)holding4, _store.GetLogBounds(StoreLog).First); // the store log's prefix went with it
        Assert.Equal([4ul, 5ul], ReadFrom(_state, 4).Select(r => r.Offset));
        AssertProducerRemembered(_state, epoch);

        // A replica that is sent the snapshot starts at its end with the same epochs and producers, then applies the rest.
        var restored = await PartitionState.LoadAsync(_store, 99 << 24);
        restored.Restore(_storage.Metadata.Snapshot);
        Assert.Equal((4ul, 4ul), (restored.FirstOffset, restored.NextOffset));
        Assert.Equal(_state.Epochs, restored.Epochs);
        AssertProducerRemembered(restored, epoch);
        var after = new List<LogEntry>();
        _storage.ReadEntries(holding4, _driver.Node.LastIndex + 1, long.MaxValue, after);
        foreach (var entry in after)
        {
            restored.Apply(entry);
        }

        Assert.Equal((4ul, 6ul, _state.RetainedBytes), (restored.FirstOffset, restored.NextOffset, restored.RetainedBytes));

        // Restart on the same store: the snapshot and the compacted log are read back.
        _driver.Dispose();
        await _store.DisposeAsync();
        _store = PyramidStore.Open(_directory);
        if (loseAppliedState)
        {
            using var write = new WriteBatch();
            write.Delete(ReplicaKv.Key(StoreLog, ReplicaKv.Applied)); // as if the unsynced applied state never reached the disk
            await _store.WriteAsync(write);
        }

        _storage = await ReplicaStorage.OpenAsync(_store, StoreLog);
        await StartAsync();
        Assert.Equal(holding4 - 1, _storage.Metadata.Snapshot.Index);
        _turns.ElectAlone(_driver);
        _turns.Drain();
        Assert.Equal((4ul, 6ul), (_state.FirstOffset, _state.NextOffset));
        Assert.Equal([4ul, 5ul], ReadFrom(_state, 4).Select(r => r.Offset));
        AssertProducerRemembered(_state, epoch);
        var next = (AppendAck)Await(Propose(RecordBatchCodec.Encode([Rec(6)], 1024, new BatchHeader(2000, Producer, 2))))!;
        Assert.Equal(6ul, next.FirstOffset);
    }

    [Fact]
    public void Retention_past_the_end_drops_every_record_and_later_appends_continue_the_offsets()
    {
        _turns.ElectAlone(_driver);
        for (var i = 0; i < 3; i++)
        {
            Await(Propose(RecordBatchCodec.Encode([Rec(i)], 1024, new BatchHeader(1000, 0, 0))));
        }

        Await(Propose(RetentionCommand.Encode(3)));
        _turns.Drain();
        Assert.Equal((3ul, 3ul, 0ul), (_state.FirstOffset, _state.NextOffset, _state.RetainedBytes));
        Assert.Equal(_driver.Node.AppliedIndex - 1, _driver.Node.SnapshotIndex); // up to the entry before the command
        Assert.Equal(3ul, ((AppendAck)Await(Propose(RecordBatchCodec.Encode([Rec(3)], 1024, new BatchHeader(1000, 0, 0))))!).FirstOffset);
        Assert.Equal([3ul], ReadFrom(_state, 3).Select(r => r.Offset));
    }

    [Fact]
    public async Task A_compaction_is_not_written_ahead_of_the_applied_state_whose_retention_asked_for_it()
    {
        _turns.ElectAlone(_driver);
        for (var i = 0; i < 6; i++)
        {
            Await(Propose(RecordBatchCodec.Encode([Rec(i)], 1024, new BatchHeader(1000 + i, 0, 0))));
        }

        _turns.Drain();

        // An append and a retention command are persisted together; their completions are two turns. The append's turn
        // queues its applied state; the retention's turn runs while that write is still in flight (its completion is a
        // later turn), so the retention's own applied state cannot be queued yet.
        Task<object?> append, retention;
        using (var persists = HeldCommitThread.Hold(_store))
        {
            append = Propose(RecordBatchCodec.Encode([Rec(6)], 1024, new BatchHeader(2000, 0, 0)));
            retention = Propose(RetentionCommand.Encode(3)); // offsets 0-2 go
            _turns.RunPending();
            var last = (ulong)_driver.Node.LastIndex;
            persists.Release();
            await persists.Written;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (_store.GetLogBounds(StoreLog).Next <= last || _turns.Pending == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the persists did not complete");
                Thread.Sleep(1);
            }
        }

        using (var applied = HeldCommitThread.Hold(_store)) // the persists' completions are queued turns by now
        {
            _turns.RunPending();
            Assert.True(append.IsCompleted && retention.IsCompleted);
            Assert.Equal(3ul, _state.FirstOffset);

            // The replica stops here (a deactivation or a crash): what it queued so far is written, nothing more.
            _driver.Dispose();
            applied.Release();
            await applied.Written;
        }

        await _store.DisposeAsync();
        _store = PyramidStore.Open(_directory);
        _storage = await ReplicaStorage.OpenAsync(_store, StoreLog);
        await StartAsync();

        // Before the restarted replica applies anything: every record it reads is the one appended at its offset (a
        // compaction written ahead of that state left the old offset index over the compacted log: offset 0 read entry
        // 4's record).
        var records = ReadFrom(_state, _state.FirstOffset);
        Assert.NotEmpty(records);
        foreach (var record in records)
        {
            Assert.Equal((byte)record.Offset, record.Value[0]);
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task A_compaction_lost_in_a_crash_after_its_applied_state_was_written_is_taken_when_the_replica_reopens(bool pastTheEnd, bool commitIndexLost)
    {
        _driver.Dispose();
        LostCompactions lost = null!;
        await StartAsync(state => lost = new LostCompactions(state) { Losing = false });
        _turns.ElectAlone(_driver);
        Await(Propose(RecordBatchCodec.Encode([Rec(0), Rec(1)], 1024, new BatchHeader(1000, Producer, 0))));
        for (var i = 2; i < 6; i++)
        {
            Await(Propose(RecordBatchCodec.Encode([Rec(i)], 1024, new BatchHeader(1000 + i, 0, 0))));
        }

        var epoch = _state.Epoch;
        var (holding2, _, _) = _state.Locate(2);
        var (holding4, _, _) = _state.Locate(4);
        Await(Propose(RetentionCommand.Encode(2))); // compacted as usual: offsets 0-1 go, with the producer's entry
        _turns.Drain();
        var oldSnapshot = _storage.Metadata.Snapshot.Index;
        Assert.Equal(holding2 - 1, oldSnapshot);

        // The next command's applied state is written, its compaction is not: the process died between the two writes.
        lost.Losing = true;
        var retainFrom = pastTheEnd ? 6ul : 4ul;
        Await(Propose(RetentionCommand.Encode(retainFrom)));
        var retention = _driver.Node.LastIndex;
        _turns.Drain();
        Assert.Equal([pastTheEnd ? retention - 1 : holding4 - 1], lost.Lost);
        _driver.Dispose();
        await _driver.QueuedPersists;
        await _store.DisposeAsync();

        _store = PyramidStore.Open(_directory);
        _storage = await ReplicaStorage.OpenAsync(_store, StoreLog);
        if (commitIndexLost)
        {
            // A power loss also lost the unsynced commit-only hard-state writes: the node hands the entries after the old
            // snapshot out again, and only then has applied what the machine asks to compact.
            using var rewound = _storage.Build(null, [], _storage.HardState with { Commit = oldSnapshot }, hardStateChanged: true, skipSync: false);
            await _store.WriteAsync(rewound);
        }

        await StartAsync();
        Assert.Equal(oldSnapshot, _storage.Metadata.Snapshot.Index); // the crash left the old snapshot
        Assert.Equal((retainFrom, retention), (_state.FirstOffset, _state.AppliedIndex)); // and the new applied state
        Assert.Equal(commitIndexLost ? oldSnapshot : retention, _driver.Node.AppliedIndex);

        // Reopened, the replica compacts where the command asked (with every record retained gone, at its applied index:
        // every entry up to it holds only dropped records).
        var compactTo = pastTheEnd ? retention : holding4 - 1;
        _turns.ElectAlone(_driver);
        _turns.Drain();
        Assert.Equal(compactTo, _driver.Node.SnapshotIndex);
        Assert.Equal(compactTo, _storage.Metadata.Snapshot.Index);
        var restored = await PartitionState.LoadAsync(_store, 99 << 24);
        restored.Restore(_storage.Metadata.Snapshot);
        Assert.Equal((retainFrom, retainFrom), (restored.FirstOffset, restored.NextOffset));
        AssertProducerRemembered(restored, epoch);

        _driver.Dispose();
        await _driver.QueuedPersists;
        Assert.Equal((ulong)compactTo + 1, _store.GetLogBounds(StoreLog).First); // the store log's prefix went with it
        ulong[] retained = pastTheEnd ? [] : [4, 5];
        Assert.Equal(retained, ReadFrom(_state, retainFrom).Select(r => r.Offset));
        AssertProducerRemembered(_state, epoch);
    }

    private static void AssertProducerRemembered(PartitionState state, ulong epoch)
    {
        Assert.Equal(SequenceCheck.Duplicate, state.Producers.Check(Producer, 0, 2, out var original, out _));
        Assert.Equal(new AppendAck(epoch, 0, 2, Duplicate: true), original);
        Assert.Equal(SequenceCheck.Next, state.Producers.Check(Producer, 2, 1, out _, out var expected));
        Assert.Equal(2, expected);
    }

    private static List<CommittedRecord> ReadFrom(PartitionState state, ulong offset)
    {
        var records = new List<CommittedRecord>();
        state.Read(offset, 1 << 20, records);
        return records;
    }

    private static ProducerRecord Rec(int i) => new(null, [(byte)i]);

    /// <summary>Opens the replica's state and its driver; <paramref name="wrap"/> wraps the state the driver applies to.</summary>
    private async Task StartAsync(Func<PartitionState, IReplicaStateMachine>? wrap = null)
    {
        _state = await PartitionState.OpenAsync(_store, _storage);
        var node = new RaftNode(new RaftOptions
        {
            Id = 1, Incarnation = 7, Storage = _storage, Random = new SeededRaftRandom(1), Applied = _storage.RestartApplied(_state.AppliedIndex),
        });
        var machine = wrap?.Invoke(_state) ?? _state;
        _driver = new ReplicaDriver(node, _storage, _store, machine, this, NullLogger.Instance, new ReplicaGrainKey(11, 0, 0), skipSync: false);
    }


    private Task<object?> Propose(byte[] data)
    {
        Task<object?>? proposal = null;
        _turns.Run(() => proposal = _driver.ProposeAsync(data, "11/0/0", r => $"11/0/{r}"));
        return proposal!;
    }

    private object? Await(Task<object?> proposal)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); // a loaded disk can take seconds per fsync
        while (!proposal.IsCompleted)
        {
            Assert.True(DateTime.UtcNow < deadline, "a proposal did not commit");
            _turns.RunPending();
            Thread.Sleep(1);
        }

        return proposal.Result;
    }


    void IReplicaTransport.Send(long toRaftId, RaftEnvelope envelope) => throw new InvalidOperationException("a single replica sends nothing");

    void IReplicaTransport.SetTicking(bool on)
    {
    }

    void IReplicaTransport.LeadershipChanged(bool leads)
    {
    }

    void IReplicaTransport.Failed(Exception error) => throw new InvalidOperationException("the replica failed", error);
}
