using Microsoft.Extensions.Time.Testing;
using Pyralog.Bench.Storage;

namespace Pyralog.Bench.Tests;

/// <summary>A store whose every append takes the time <c>duration(append index)</c> on a fake clock.</summary>
internal sealed class FakeStorageTarget(FakeTimeProvider time, Func<int, TimeSpan> duration) : IStorageTarget
{
    public int Appends { get; private set; }

    public bool Disposed { get; private set; }

    public string System => "fake";

    public bool SupportsKv => false;

    public ValueTask AppendAsync(long first, byte[][] payloads, int count)
    {
        time.Advance(duration(Appends));
        Appends++;
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }

    public ValueTask LoadAsync(long records, byte[] payload) => throw new NotSupportedException();

    public ValueTask<int> ReadAsync(long index) => throw new NotSupportedException();

    public (long Records, long Bytes) ScanAll() => throw new NotSupportedException();

    public ValueTask PutAsync(byte[][] keys, byte[] value, int count) => throw new NotSupportedException();

    public ValueTask<int> GetAsync(byte[] key) => throw new NotSupportedException();
}
