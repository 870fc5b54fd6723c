using Pyralog.Consensus;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>A replica's Raft state in a real store: what a persist writes is what a reopen reads, overwrites truncate, snapshots replace the log.</summary>
public sealed class ReplicaStorageTests : IDisposable
{
    private const ulong StoreLog = 1 << 24;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"pyralog-replica-storage-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_bootstrapped_replica_persists_entries_and_hard_state_and_reads_them_back_after_a_reopen()
    {
        var config = ClusterConfig.Of(1, 2, 3);
        await using (var store = PyramidStore.Open(_directory))
        {
            var storage = await ReplicaStorage.OpenAsync(store, StoreLog);
            Assert.True(storage.IsEmpty);
            await storage.RecordIncarnationAsync(5, default);
            await storage.BootstrapAsync(config, default);
            var node = new RaftNode(new RaftOptions { Id = 1, Incarnation = 5, Storage = storage, Random = new SeededRaftRandom(1) });
            await PersistAllAsync(node, storage, store); // the bootstrap commit

            // Overwrite: entries 2..3 of term 2, then 3..4 of term 3 (3 replaced), as a follower would write them.
            await WriteAsync(store, storage, [Entry(2, 2, "a"), Entry(3, 2, "b")], new HardState(2, 1, 1, 5, 5));
            await WriteAsync(store, storage, [Entry(3, 3, "c"), Entry(4, 3, "d")], new HardState(3, 0, 4, 0, 5));
        }

        await using (var store = PyramidStore.Open(_directory))
        {
            var storage = await ReplicaStorage.OpenAsync(store, StoreLog);
            Assert.Equal(new HardState(3, 0, 4, 0, 5), storage.HardState);
            Assert.Equal(4, storage.Metadata.LastIndex);
            Assert.Equal([new TermRun(0, 0), new TermRun(1, 1), new TermRun(2, 2), new TermRun(3, 3)], storage.Metadata.Runs);
            Assert.Equal(config.ToString(), storage.Metadata.Config.ToString());
            var entries = new List<LogEntry>();
            storage.ReadEntries(1, 5, long.MaxValue, entries);
            Assert.Equal([(1L, 1L), (2, 2), (3, 3), (4, 3)], entries.Select(e => (e.Index, e.Term)));
            Assert.Equal("c", System.Text.Encoding.UTF8.GetString(entries[2].Data.Span));

            var limited = new List<LogEntry>();
            storage.ReadEntries(2, 5, 1, limited);
            Assert.Single(limited); // at least one entry, however small the budget
        }
    }

    [Fact]
    public async Task A_received_snapshot_replaces_the_log_and_the_log_continues_after_it()
    {
        await using var store = PyramidStore.Open(_directory);
        var storage = await TwoMemberReplicaHoldingEntries2And3Async(store, new HardState(2, 0, 3, 0, 5));

        var snapshot = new RaftSnapshot(10, 4, ClusterConfig.Of(1, 2, 3), "state"u8.ToArray());
        using (var write = BuildWithSnapshot(storage, snapshot, [Entry(11, 4, "after")], new HardState(4, 0, 11, 0, 5)))
        {
            await store.WriteAsync(write);
        }

        var reopened = await ReplicaStorage.OpenAsync(store, StoreLog);
        Assert.Equal(10, reopened.Metadata.Snapshot.Index);
        Assert.Equal("state"u8.ToArray(), reopened.Metadata.Snapshot.Data.ToArray());
        Assert.Equal(11, reopened.Metadata.LastIndex);
        Assert.Equal(3, reopened.Metadata.Config.Voters.Count);
        var entries = new List<LogEntry>();
        reopened.ReadEntries(11, 12, long.MaxValue, entries);
        Assert.Equal("after", System.Text.Encoding.UTF8.GetString(entries.Single().Data.Span));
        Assert.Equal(11ul, store.GetLogBounds(StoreLog).First);
    }

    [Fact]
    public async Task Only_a_persist_that_holds_entries_a_snapshot_a_term_or_a_vote_asks_for_an_fdatasync()
    {
        await using var store = PyramidStore.Open(_directory);
        var storage = await TwoMemberReplicaHoldingEntries2And3Async(store, new HardState(2, 1, 1, 5, 5));

        Assert.True(await PersistSkipsSyncAsync(store, storage, null, [], new HardState(2, 1, 3, 5, 5))); // the commit index alone moved
        Assert.False(await PersistSkipsSyncAsync(store, storage, null, [Entry(4, 2, "c")], new HardState(2, 1, 3, 5, 5)));
        Assert.False(await PersistSkipsSyncAsync(store, storage, null, [], new HardState(3, 0, 3, 0, 5))); // a new term
        Assert.False(await PersistSkipsSyncAsync(store, storage, null, [], new HardState(3, 2, 3, 7, 5))); // a vote
        Assert.False(await PersistSkipsSyncAsync(store, storage, null, [], new HardState(3, 2, 3, 8, 5))); // another incarnation of the candidate
        var snapshot = new RaftSnapshot(4, 2, ClusterConfig.Of(1, 2), "s"u8.ToArray());
        Assert.False(await PersistSkipsSyncAsync(store, storage, snapshot, [], new HardState(3, 2, 4, 8, 5)));
        Assert.True(await PersistSkipsSyncAsync(store, storage, null, [Entry(5, 3, "d")], new HardState(3, 2, 5, 8, 5), skipSync: true)); // an os-cache log
        Assert.False(await PersistSkipsSyncAsync(store, storage, null, [], new HardState(4, 0, 5, 0, 5), skipSync: true)); // its new term
        Assert.False(await PersistSkipsSyncAsync(store, storage, null, [], new HardState(4, 2, 5, 8, 5), skipSync: true)); // its vote
        Assert.True(await PersistSkipsSyncAsync(store, storage, null, [], new HardState(4, 2, 5, 8, 5), skipSync: true)); // unchanged

        var reopened = await ReplicaStorage.OpenAsync(store, StoreLog);
        Assert.Equal(new HardState(4, 2, 5, 8, 5), reopened.HardState);
        Assert.Equal(5, reopened.Metadata.LastIndex);
    }

    private static async Task<bool> PersistSkipsSyncAsync(
        PyramidStore store, ReplicaStorage storage, RaftSnapshot? snapshot, LogEntry[] entries, HardState hard, bool skipSync = false)
    {
        using var write = BuildWithSnapshot(storage, snapshot, entries, hard, skipSync);
        await store.WriteAsync(write);
        return write.SkipSync;
    }

    /// <summary>A replica of incarnation 5 in a bootstrapped group of two, holding entries 2 and 3 of term 2 under <paramref name="hard"/>.</summary>
    private static async Task<ReplicaStorage> TwoMemberReplicaHoldingEntries2And3Async(PyramidStore store, HardState hard)
    {
        var storage = await ReplicaStorage.OpenAsync(store, StoreLog);
        await storage.RecordIncarnationAsync(5, default);
        await storage.BootstrapAsync(ClusterConfig.Of(1, 2), default);
        await WriteAsync(store, storage, [Entry(2, 2, "a"), Entry(3, 2, "b")], hard);
        return storage;
    }

    [Fact]
    public async Task Entries_without_metadata_are_reported_as_damage()
    {
        await using var store = PyramidStore.Open(_directory);
        await store.AppendAsync(StoreLog, 1, 1, new byte[] { 0, 1 });
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ReplicaStorage.OpenAsync(store, StoreLog));
        Assert.Contains("no Raft metadata", error.Message);
    }

    private static LogEntry Entry(long index, long term, string data) => new(index, term, EntryType.Normal, System.Text.Encoding.UTF8.GetBytes(data));

    private static async Task WriteAsync(PyramidStore store, ReplicaStorage storage, LogEntry[] entries, HardState hard)
    {
        using var write = BuildWithSnapshot(storage, null, entries, hard);
        await store.WriteAsync(write);
    }

    private static WriteBatch BuildWithSnapshot(ReplicaStorage storage, RaftSnapshot? snapshot, LogEntry[] entries, HardState hard, bool skipSync = false) =>
        storage.Build(snapshot, entries, hard, hardStateChanged: true, skipSync);

    private static async Task PersistAllAsync(RaftNode node, ReplicaStorage storage, PyramidStore store)
    {
        while (node.HasReady)
        {
            var ready = node.GetReady();
            var batch = ready.ToPersist;
            node.Advance();
            if (batch is not null)
            {
                using var write = storage.Build(batch, skipSync: false);
                await store.WriteAsync(write);
                node.Persisted(batch.Mark);
            }
        }
    }
}
