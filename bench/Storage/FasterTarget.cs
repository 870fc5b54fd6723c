using FASTER.core;

namespace Pyralog.Bench.Storage;

/// <summary>FASTER's FasterLog: Enqueue each record of a batch, then Commit(spinWait) and wait for the commit.
/// Point reads go by the logical address Enqueue returned. FasterLog has no key/value API.</summary>
internal sealed class FasterTarget : IStorageTarget
{
    private readonly IDevice _device;
    private readonly FasterLog _log;
    private long[] _addresses = new long[1 << 16];
    private long _count;

    public FasterTarget(string directory)
    {
        _device = Devices.CreateLogDevice(Path.Combine(directory, "hlog.log"));
        _log = new FasterLog(new FasterLogSettings { LogDevice = _device, LogCommitDir = directory, PageSizeBits = 22, MemorySizeBits = 26 });
    }

    public string System => "faster";

    public bool SupportsKv => false;

    public ValueTask AppendAsync(long first, byte[][] payloads, int count)
    {
        for (var i = 0; i < count; i++)
        {
            Remember(_log.Enqueue(payloads[i]));
        }

        _log.Commit(spinWait: true);
        return ValueTask.CompletedTask;
    }

    public ValueTask LoadAsync(long records, byte[] payload)
    {
        for (long i = 0; i < records; i++)
        {
            Remember(_log.Enqueue(payload));
        }

        _log.Commit(spinWait: true);
        return ValueTask.CompletedTask;
    }

    public async ValueTask<int> ReadAsync(long index)
    {
        var (_, length) = await _log.ReadAsync(_addresses[index]);
        return length;
    }

    public (long Records, long Bytes) ScanAll()
    {
        long records = 0, bytes = 0;
        using var iterator = _log.Scan(_log.BeginAddress, _log.TailAddress);
        while (iterator.GetNext(out var entry, out var length, out _))
        {
            records++;
            bytes += length;
        }

        return (records, bytes);
    }

    public ValueTask PutAsync(byte[][] keys, byte[] value, int count) => throw new NotSupportedException("FasterLog has no key/value API");

    public ValueTask<int> GetAsync(byte[] key) => throw new NotSupportedException("FasterLog has no key/value API");

    public ValueTask DisposeAsync()
    {
        _log.Dispose();
        _device.Dispose();
        return ValueTask.CompletedTask;
    }

    private void Remember(long address)
    {
        if (_count == _addresses.Length)
        {
            Array.Resize(ref _addresses, _addresses.Length * 2);
        }

        _addresses[_count++] = address;
    }
}
