using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>
/// The asynchronous persistence contract at one follower, input by input: what waits for which batch, what a late
/// mark may and may not make durable, and snapshots arriving in chunks.
/// </summary>
public sealed class AsyncPersistenceTests
{
    private static readonly ClusterConfig Three = ClusterConfig.Of(1, 2, 3);

    [Fact]
    public void AnAcknowledgementWaitsForItsBatchEvenWithNothingToWrite()
    {
        var (follower, storage) = NewFollower();
        var append = Append(term: 2, prev: 1, prevTerm: 1, commit: 1, Entry(2, 2), Entry(3, 2));
        follower.Step(append);
        var ready = follower.GetReady();
        Assert.DoesNotContain(ready.Messages, m => m.Type == MessageType.AppendResponse);
        var batch = ready.ToPersist!;
        Assert.Equal(3, Assert.Single(batch.MessagesAfterPersist).Index);
        follower.Advance();
        storage.Write(batch);
        follower.Persisted(batch.Mark);

        // The same Append again: nothing new to write, but the acknowledgement still goes out only with a batch.
        follower.Step(append);
        Assert.True(follower.HasReady);
        ready = follower.GetReady();
        Assert.Empty(ready.Messages);
        Assert.Empty(ready.ToPersist!.Entries);
        Assert.Equal(3, Assert.Single(ready.ToPersist.MessagesAfterPersist).Index);
        follower.Advance();
    }

    [Fact]
    public void AnAcknowledgementOfEntriesOverwrittenBeforeTheirBatchIsDropped()
    {
        var (follower, _) = NewFollower();
        follower.Step(Append(term: 2, prev: 1, prevTerm: 1, commit: 1, Entry(2, 2), Entry(3, 2)));
        follower.Step(Append(term: 3, prev: 1, prevTerm: 1, commit: 1, Entry(2, 3)));
        var batch = follower.GetReady().ToPersist!;
        var ack = Assert.Single(batch.MessagesAfterPersist);
        Assert.Equal((3L, 2L), (ack.Term, ack.Index));
        Assert.Equal(new[] { 2L }, batch.Entries.Select(e => e.Index));
        Assert.Equal(3, batch.Entries[0].Term);
        follower.Advance();
    }

    [Fact]
    public void AMarkForOverwrittenEntriesMakesNothingDurable()
    {
        var (follower, storage) = NewFollower();
        follower.Step(Append(term: 2, prev: 1, prevTerm: 1, commit: 1, Entry(2, 2), Entry(3, 2)));
        var first = follower.GetReady().ToPersist!;
        follower.Advance();
        follower.Step(Append(term: 3, prev: 1, prevTerm: 1, commit: 3, Entry(2, 3), Entry(3, 3)));
        var second = follower.GetReady().ToPersist!;
        follower.Advance();

        // The first write lands; its entries are not the log's any more, so nothing committed may be applied yet.
        storage.Write(first);
        follower.Persisted(first.Mark);
        Assert.False(follower.HasReady);
        storage.Write(second);
        follower.Persisted(second.Mark);
        var ready = follower.GetReady();
        Assert.Equal(new[] { (2L, 3L), (3L, 3L) }, ready.CommittedEntries.ToArray().Select(e => (e.Index, e.Term)));
        follower.Advance();
    }

    [Fact]
    public void EntriesNotYetDurableStayCachedWhateverTheCacheSize()
    {
        var storage = MemoryRaftStorage.Bootstrap(Three);
        var follower = NewNode(storage, maxCachedBytes: 0);
        follower.Step(Append(term: 2, prev: 1, prevTerm: 1, commit: 1, Entry(2, 2), Entry(3, 2)));
        var first = follower.GetReady().ToPersist!;
        follower.Advance();
        follower.Step(Append(term: 2, prev: 3, prevTerm: 2, commit: 1, Entry(4, 2), Entry(5, 2)));
        var second = follower.GetReady().ToPersist!;
        follower.Advance();
        storage.Write(first);
        follower.Persisted(first.Mark);

        var entries = new List<LogEntry>();
        follower.CopyEntries(2, 6, entries);
        Assert.Equal(new[] { 2L, 3, 4, 5 }, entries.Select(e => e.Index));
        Assert.Equal(5, second.Mark.LastIndex);
    }

    [Fact]
    public void DurableEntriesBeyondTheCacheBudgetAreReadBackFromStorage()
    {
        var storage = new CountingRaftStorage(MemoryRaftStorage.Bootstrap(Three));
        var entry = LogEntry.Overhead + 100;
        var follower = new RaftNode(new RaftOptions
        {
            Id = 2, Storage = storage, Random = new SeededRaftRandom(2), MaxCachedBytes = 3 * entry,
        });
        var entries = Enumerable.Range(2, 10).Select(i => new LogEntry(i, 2, EntryType.Normal, new byte[100])).ToArray();
        follower.Step(Append(term: 2, prev: 1, prevTerm: 1, commit: 1, entries));
        var batch = follower.GetReady().ToPersist!;
        follower.Advance();

        // Not durable yet: all ten stay in memory although they are over the budget. (The bootstrap entry, committed,
        // was read back to be applied.)
        var applied = storage.EntriesRead;
        var read = new List<LogEntry>();
        follower.CopyEntries(2, 12, read);
        Assert.Equal(applied, storage.EntriesRead);

        storage.Inner.Write(batch);
        follower.Persisted(batch.Mark);
        read.Clear();
        follower.CopyEntries(2, 12, read);
        Assert.Equal(Enumerable.Range(2, 10).Select(i => (long)i), read.Select(e => e.Index));
        Assert.Equal(applied + 7, storage.EntriesRead);
    }

    [Fact]
    public void ASnapshotInChunksIsInstalledOnceWholeAndCommitted()
    {
        var (follower, storage) = NewFollower();
        var data = new byte[] { 1, 2, 3, 4, 5, 6, 7 };
        var snapshot = new RaftSnapshot(9, 2, Three, data);
        Message Chunk(int offset, int length) => new()
        {
            Type = MessageType.InstallSnapshot, To = 2, From = 1, FromIncarnation = 1, Term = 2,
            Snapshot = snapshot with { Data = data.AsMemory(offset, length) }, ChunkOffset = offset, SnapshotBytes = data.Length,
        };

        follower.Step(Chunk(3, 3));
        follower.Step(Chunk(0, 3));
        follower.Step(Chunk(3, 3));
        Assert.Equal(1, follower.CommitIndex);
        follower.Step(Chunk(6, 1));
        Assert.Equal(9, follower.CommitIndex);
        var ready = follower.GetReady();
        var batch = ready.ToPersist!;
        Assert.Equal(data, batch.Snapshot!.Data.ToArray());
        Assert.Equal(9, Assert.Single(batch.MessagesAfterPersist).Index);
        Assert.Equal(0, ready.CommittedEntries.Length);
        follower.Advance();
        storage.Write(batch);
        follower.Persisted(batch.Mark);
        Assert.Equal(9, follower.AppliedIndex);
    }

    [Fact]
    public void AnAcknowledgementWaitingWhenASnapshotReplacesTheLogIsDropped()
    {
        var (follower, _) = NewFollower();
        follower.Step(Append(term: 2, prev: 1, prevTerm: 1, commit: 1, Entry(2, 2), Entry(3, 2)));
        follower.Step(new Message
        {
            Type = MessageType.InstallSnapshot, To = 2, From = 3, FromIncarnation = 1, Term = 3,
            Snapshot = new RaftSnapshot(9, 3, Three, ReadOnlyMemory<byte>.Empty), SnapshotBytes = 0,
        });
        var batch = follower.GetReady().ToPersist!;
        var ack = Assert.Single(batch.MessagesAfterPersist);
        Assert.Equal((3L, 9L, 3L), (ack.To, ack.Index, ack.Term));
        follower.Advance();
    }

    private static (RaftNode Follower, MemoryRaftStorage Storage) NewFollower()
    {
        var storage = MemoryRaftStorage.Bootstrap(Three);
        return (NewNode(storage, maxCachedBytes: 64 * (LogEntry.Overhead + 1)), storage);
    }

    private static RaftNode NewNode(MemoryRaftStorage storage, long maxCachedBytes) => new(new RaftOptions
    {
        Id = 2,
        Storage = storage,
        Random = new SeededRaftRandom(2),
        MaxCachedBytes = maxCachedBytes,
    });

    private static Message Append(long term, long prev, long prevTerm, long commit, params LogEntry[] entries) => new()
    {
        Type = MessageType.Append, To = 2, From = term == 3 ? 3 : 1, FromIncarnation = 1, Term = term, Index = prev, LogTerm = prevTerm, Commit = commit,
        Entries = entries,
    };

    private static LogEntry Entry(long index, long term) => new(index, term, EntryType.Normal, new byte[] { (byte)index });
}
