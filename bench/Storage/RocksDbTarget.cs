using System.Buffers.Binary;
using RocksDbSharp;

namespace Pyralog.Bench.Storage;

/// <summary>RocksDB via RocksDbSharp: a WriteBatch per append, written with sync=true. Log records are
/// keyed by big-endian index so key order is log order; same block cache size and bloom bits as Pyralog.</summary>
internal sealed class RocksDbTarget : IStorageTarget
{
    /// <summary>RocksDB's tuning guide's production value for <c>bytes_per_sync</c> and <c>wal_bytes_per_sync</c>.</summary>
    internal const ulong BytesPerSync = 1 << 20;

    private readonly RocksDb _db;
    private readonly WriteOptions _sync = new WriteOptions().SetSync(true);
    private readonly WriteOptions _noSync = new WriteOptions().SetSync(false);
    private readonly byte[] _key = new byte[8];

    public RocksDbTarget(string directory) => _db = RocksDb.Open(Options(), directory);

    /// <summary>
    /// Like for like with Pyralog: no compression (Pyralog stores records as written; with no per-level list and no
    /// bottommost setting this holds on every level), and flush and compaction files synced every
    /// <see cref="BytesPerSync"/> as they are written, as Pyralog's segment writer writes back in steps, instead of
    /// whole at their end (the library's default of 0). The WAL is synced by every measured write; the load's is paced too.
    /// </summary>
    internal static DbOptions Options()
    {
        var table = new BlockBasedTableOptions()
            .SetBlockCache(Cache.CreateLru(32UL << 20))
            .SetFilterPolicy(BloomFilterPolicy.Create(10, false));
        var options = new DbOptions()
            .SetCreateIfMissing(true)
            .SetBlockBasedTableFactory(table)
            .SetCompression(Compression.No)
            .SetBytesPerSync(BytesPerSync);
        Native.Instance.rocksdb_options_set_wal_bytes_per_sync(options.Handle, BytesPerSync);
        return options;
    }

    public string System => "rocksdb";

    public bool SupportsKv => true;

    public ValueTask AppendAsync(long first, byte[][] payloads, int count)
    {
        using var batch = new WriteBatch();
        for (var i = 0; i < count; i++)
        {
            batch.Put(Key(first + i), payloads[i]);
        }

        _db.Write(batch, _sync);
        return ValueTask.CompletedTask;
    }

    public ValueTask LoadAsync(long records, byte[] payload)
    {
        for (long i = 0; i < records; i += 1000)
        {
            using var batch = new WriteBatch();
            for (var k = 0; k < 1000 && i + k < records; k++)
            {
                batch.Put(Key(i + k), payload);
            }

            _db.Write(batch, _noSync);
        }

        _db.Flush(new FlushOptions().SetWaitForFlush(true));
        _db.CompactRange([], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        return ValueTask.CompletedTask;
    }

    public ValueTask<int> ReadAsync(long index)
    {
        BinaryPrimitives.WriteInt64BigEndian(_key, index);
        return ValueTask.FromResult(_db.Get(_key).Length);
    }

    public (long Records, long Bytes) ScanAll()
    {
        long records = 0, bytes = 0;
        using var iterator = _db.NewIterator();
        for (iterator.SeekToFirst(); iterator.Valid(); iterator.Next())
        {
            records++;
            bytes += iterator.Value().Length;
        }

        return (records, bytes);
    }

    public ValueTask PutAsync(byte[][] keys, byte[] value, int count)
    {
        using var batch = new WriteBatch();
        for (var i = 0; i < count; i++)
        {
            batch.Put(keys[i], value);
        }

        _db.Write(batch, _sync);
        return ValueTask.CompletedTask;
    }

    public ValueTask<int> GetAsync(byte[] key) => ValueTask.FromResult(_db.Get(key)?.Length ?? -1);

    public ValueTask DisposeAsync()
    {
        _db.Dispose();
        return ValueTask.CompletedTask;
    }

    private static byte[] Key(long index)
    {
        var key = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(key, index);
        return key;
    }
}
