using Pyralog.Storage.Native;

namespace Pyralog.Bench.Storage;

/// <summary>The Pyramid engine with its default options (fsync per commit group).</summary>
internal sealed class PyralogTarget : IStorageTarget
{
    private const ulong Log = 1;
    private readonly string _directory;
    private readonly WriteBatch _batch = new(2 << 20);
    private PyramidStore _store;

    public PyralogTarget(string directory)
    {
        _directory = directory;
        _store = PyramidStore.Open(directory, new PyramidOptions());
    }

    public string System => "pyralog";

    public bool SupportsKv => true;

    public PyramidStatistics Statistics => _store.GetStatistics();

    /// <summary>The statistics once every memtable is flushed (a flush already running finished too): write
    /// amplification then counts the flush of every record written, not only of the memtables flushed by chance.</summary>
    public async Task<PyramidStatistics> FlushedStatisticsAsync()
    {
        await _store.FlushAsync();
        return _store.GetStatistics();
    }

    public async ValueTask AppendAsync(long first, byte[][] payloads, int count)
    {
        _batch.Clear();
        for (var i = 0; i < count; i++)
        {
            _batch.Append(Log, 1, (ulong)(first + i), payloads[i]);
        }

        await _store.WriteAsync(_batch);
    }

    public async ValueTask LoadAsync(long records, byte[] payload)
    {
        await _store.DisposeAsync();
        _store = PyramidStore.Open(_directory, new PyramidOptions { Durability = DurabilityMode.None });
        for (long i = 0; i < records; i += 1000)
        {
            _batch.Clear();
            for (var k = 0; k < 1000 && i + k < records; k++)
            {
                _batch.Append(Log, 1, (ulong)(i + k), payload);
            }

            await _store.WriteAsync(_batch);
        }

        await _store.CompactAsync();
        await _store.DisposeAsync();
        _store = PyramidStore.Open(_directory, new PyramidOptions());
    }

    public async ValueTask<int> ReadAsync(long index) => (await _store.ReadAsync(Log, (ulong)index))!.Payload.Length;

    public (long Records, long Bytes) ScanAll()
    {
        long records = 0, bytes = 0;
        using var cursor = _store.ReadLog(Log, 0);
        while (cursor.MoveNext())
        {
            records++;
            bytes += cursor.Payload.Length;
        }

        return (records, bytes);
    }

    public async ValueTask PutAsync(byte[][] keys, byte[] value, int count)
    {
        _batch.Clear();
        for (var i = 0; i < count; i++)
        {
            _batch.Put(keys[i], value);
        }

        await _store.WriteAsync(_batch);
    }

    public async ValueTask<int> GetAsync(byte[] key) => (await _store.GetAsync(key))?.Length ?? -1;

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        _batch.Dispose();
    }
}
