namespace Pyralog.Bench.Storage;

/// <summary>One system under test, exercised with the same records, batches and durability (sync per batch).</summary>
internal interface IStorageTarget : IAsyncDisposable
{
    string System { get; }

    /// <summary>False when the system has no key/value API (FasterLog).</summary>
    bool SupportsKv { get; }

    /// <summary>Appends records <paramref name="first"/>.. with the given payloads as one durable batch.</summary>
    ValueTask AppendAsync(long first, byte[][] payloads, int count);

    /// <summary>Bulk-loads <paramref name="records"/> records without per-batch sync, then makes them durable and settled (flushed, compacted).</summary>
    ValueTask LoadAsync(long records, byte[] payload);

    /// <summary>Point read of record <paramref name="index"/>; returns its payload length.</summary>
    ValueTask<int> ReadAsync(long index);

    /// <summary>Reads every record in order; returns (records, bytes).</summary>
    (long Records, long Bytes) ScanAll();

    ValueTask PutAsync(byte[][] keys, byte[] value, int count);

    ValueTask<int> GetAsync(byte[] key);
}
