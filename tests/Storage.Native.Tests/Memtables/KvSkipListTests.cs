using System.Text;
using Pyralog.Storage.Native.Memtables;

namespace Pyralog.Storage.Native.Tests.Memtables;

/// <summary>The memtable's arena skip list: order, version chains by snapshot, entries beyond a chunk, chunks reused.</summary>
public class KvSkipListTests
{
    [Fact]
    public void Keys_come_back_in_order_whatever_order_they_went_in()
    {
        var list = new KvSkipList(new ArenaPool(16));
        var random = new Random(17);
        var keys = Enumerable.Range(0, 5_000).Select(i => $"key-{i:D6}").OrderBy(_ => random.Next()).ToArray();
        ulong sequence = 0;
        foreach (var key in keys)
        {
            list.Add(Bytes(key), Bytes("v-" + key), tombstone: false, ++sequence);
        }

        var seen = new List<string>();
        for (var node = list.First; !node.IsNull; node = node.Next)
        {
            seen.Add(Encoding.UTF8.GetString(node.Key));
            Assert.Equal("v-" + seen[^1], Encoding.UTF8.GetString(node.Latest.Value));
        }

        Assert.Equal(keys.Order(StringComparer.Ordinal), seen);
        Assert.Equal(5_000, list.Count);
        Assert.Equal("key-002500", Encoding.UTF8.GetString(list.Seek(Bytes("key-0024995")).Key));
        Assert.True(list.Seek(Bytes("key-999999")).IsNull);
    }

    [Fact]
    public void A_reader_sees_the_version_of_its_snapshot()
    {
        var list = new KvSkipList(new ArenaPool(16));
        list.Add(Bytes("a"), Bytes("one"), tombstone: false, sequence: 3);
        list.Add(Bytes("b"), Bytes("other"), tombstone: false, sequence: 4);
        list.Add(Bytes("a"), default, tombstone: true, sequence: 7);
        list.Add(Bytes("a"), Bytes("three"), tombstone: false, sequence: 9);

        Assert.False(list.TryFind(Bytes("a"), 2, out _));
        Assert.True(list.TryFind(Bytes("a"), 3, out var first));
        Assert.Equal("one", Encoding.UTF8.GetString(first.Value));
        Assert.True(list.TryFind(Bytes("a"), 8, out var deleted));
        Assert.True(deleted.IsTombstone);
        Assert.Equal(7ul, deleted.Sequence);
        Assert.True(list.TryFind(Bytes("a"), ulong.MaxValue, out var latest));
        Assert.Equal("three", Encoding.UTF8.GetString(latest.Value));
        Assert.Equal(7ul, latest.Older.Sequence);
        Assert.Equal(3ul, latest.Older.Older.Sequence);
        Assert.True(latest.Older.Older.Older.IsNull);
        Assert.False(list.TryFind(Bytes("c"), ulong.MaxValue, out _));
        Assert.Equal(2, list.Count);
    }

    [Fact]
    public void An_entry_larger_than_a_chunk_gets_an_array_of_its_own()
    {
        var list = new KvSkipList(new ArenaPool(16));
        var big = new byte[ArenaPool.ChunkBytes + 100];
        new Random(5).NextBytes(big);
        list.Add(Bytes("small-1"), Bytes("x"), tombstone: false, 1);
        list.Add(Bytes("big"), big, tombstone: false, 2);
        list.Add(Bytes("small-2"), Bytes("y"), tombstone: false, 3);

        Assert.True(list.TryFind(Bytes("big"), 2, out var found));
        Assert.True(found.Value.SequenceEqual(big));
        Assert.True(list.TryFind(Bytes("small-1"), 3, out var before));
        Assert.Equal("x", Encoding.UTF8.GetString(before.Value));
        Assert.True(list.TryFind(Bytes("small-2"), 3, out var after));
        Assert.Equal("y", Encoding.UTF8.GetString(after.Value));
    }

    [Fact]
    public void Keys_spanning_many_chunks_stay_readable_and_the_chunks_go_back_to_the_pool()
    {
        var pool = new ArenaPool(64);
        var list = new KvSkipList(pool);
        var value = new byte[10_000];
        for (var i = 0; i < 1_000; i++) // ~10 MB: about ten chunks
        {
            value[0] = (byte)i;
            list.Add(Bytes($"k{i:D4}"), value, tombstone: false, (ulong)i + 1);
        }

        for (var i = 0; i < 1_000; i += 37)
        {
            Assert.True(list.TryFind(Bytes($"k{i:D4}"), ulong.MaxValue, out var found));
            Assert.Equal((byte)i, found.Value[0]);
            Assert.Equal(10_000, found.Value.Length);
        }

        Assert.Equal(0, pool.FreeChunks);
        list.ReturnChunks();
        var returned = pool.FreeChunks;
        Assert.InRange(returned, 10, 11); // 1,000 × ~10 KB in 1 MiB chunks

        var fresh = new KvSkipList(pool); // writes into a reused chunk: every byte it reads back is its own
        fresh.Add(Bytes("k"), Bytes("new"), tombstone: false, 1);
        Assert.Equal(returned - 1, pool.FreeChunks);
        Assert.True(fresh.TryFind(Bytes("k"), 1, out var again));
        Assert.Equal("new", Encoding.UTF8.GetString(again.Value));
        Assert.Equal("k", Encoding.UTF8.GetString(fresh.First.Key));
        Assert.True(fresh.First.Next.IsNull);
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
