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
    public void ALateChunkOfAnOlderSnapshotFromTheSameLeaderDoesNotRestartTheNewerOne()
    {
        var (follower, storage) = NewFollower();
        var newer = new byte[] { 1, 2, 3, 4, 5, 6 };
        var older = new byte[] { 7, 8, 9, 10 };

        // The leader resent its superseded snapshot at 10 while sending the one at 20; the network interleaves them.
        follower.Step(SnapshotChunk(new RaftSnapshot(20, 2, Three, newer), offset: 0, length: 3));
        follower.Step(SnapshotChunk(new RaftSnapshot(10, 2, Three, older), offset: 0, length: 2));
        Assert.Equal(newer.Length, follower.SnapshotAssemblyBytes);
        follower.Step(SnapshotChunk(new RaftSnapshot(20, 2, Three, newer), offset: 3, length: 3));

        Assert.Equal(20, follower.CommitIndex);
        Assert.Equal(0, follower.SnapshotAssemblyBytes);
        var batch = follower.GetReady().ToPersist!;
        Assert.Equal((20L, 2L), (batch.Snapshot!.Index, batch.Snapshot.Term));
        Assert.Equal(newer, batch.Snapshot.Data.ToArray());
        Assert.Equal(20, Assert.Single(batch.MessagesAfterPersist).Index);
        follower.Advance();
        storage.Write(batch);
        follower.Persisted(batch.Mark);

        // The rest of the older one, arriving after, is covered and installs nothing.
        follower.Step(SnapshotChunk(new RaftSnapshot(10, 2, Three, older), offset: 2, length: 2));
        Assert.Equal(0, follower.SnapshotAssemblyBytes);
        Assert.Equal(20, follower.SnapshotIndex);
    }

    [Fact]
    public void APartialSnapshotTheLogComesToCoverIsReleased()
    {
        var (follower, _) = NewFollower();
        var data = new byte[] { 1, 2, 3, 4 };
        follower.Step(SnapshotChunk(new RaftSnapshot(3, 2, Three, data), offset: 0, length: 2));
        Assert.Equal(data.Length, follower.SnapshotAssemblyBytes);

        follower.Step(Append(term: 2, prev: 1, prevTerm: 1, commit: 3, Entry(2, 2), Entry(3, 2)));
        Assert.Equal(3, follower.CommitIndex);
        Assert.Equal(0, follower.SnapshotAssemblyBytes);

        // Its last chunk finds it covered: answered with the commit index, nothing installed.
        follower.Step(SnapshotChunk(new RaftSnapshot(3, 2, Three, data), offset: 2, length: 2));
        Assert.Equal(0, follower.SnapshotAssemblyBytes);
        var batch = follower.GetReady().ToPersist!;
        Assert.Null(batch.Snapshot);
        Assert.Equal(3, batch.MessagesAfterPersist[^1].Index);
        follower.Advance();
    }

    [Fact]
    public void APartialSnapshotIsReleasedWhenTheTermMovesOn()
    {
        var (follower, _) = NewFollower();
        follower.Step(SnapshotChunk(new RaftSnapshot(9, 2, Three, new byte[] { 1, 2, 3, 4 }), offset: 0, length: 2));
        Assert.Equal(4, follower.SnapshotAssemblyBytes);

        follower.Step(new Message { Type = MessageType.Heartbeat, To = 2, From = 3, FromIncarnation = 1, Term = 3, Commit = 1 });
        Assert.Equal(3, follower.Term);
        Assert.Equal(0, follower.SnapshotAssemblyBytes);
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

    /// <summary>Bytes [offset, offset + length) of <paramref name="snapshot"/>, sent by the leader of its term (1 in term 2, else 3).</summary>
    private static Message SnapshotChunk(RaftSnapshot snapshot, int offset, int length) => new()
    {
        Type = MessageType.InstallSnapshot, To = 2, From = snapshot.Term == 2 ? 1 : 3, FromIncarnation = 1, Term = snapshot.Term,
        Snapshot = snapshot with { Data = snapshot.Data.Slice(offset, length) }, ChunkOffset = offset, SnapshotBytes = snapshot.Data.Length,
    };

    private static LogEntry Entry(long index, long term) => new(index, term, EntryType.Normal, new byte[] { (byte)index });
}
