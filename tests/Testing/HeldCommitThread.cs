using Pyralog.Storage.Native;
using Xunit;

namespace Pyralog.Testing;

/// <summary>Holds a store's commit thread in the listener of a write of its own until released, so that writes queued
/// behind it stay queued.</summary>
internal sealed class HeldCommitThread : ICommittedWriteListener, IDisposable
{
    private readonly ManualResetEventSlim _entered = new();
    private readonly ManualResetEventSlim _release = new();
    private readonly WriteBatch _write = new();

    private HeldCommitThread(PyramidStore store)
    {
        _write.Put("test/held-commit-thread"u8, "held"u8);
        _write.CommittedListener = this;
        Written = store.WriteAsync(_write).AsTask();
    }

    /// <summary>The held write; completes once released.</summary>
    public Task Written { get; }

    /// <summary>Returns once <paramref name="store"/>'s commit thread is held.</summary>
    public static HeldCommitThread Hold(PyramidStore store)
    {
        var held = new HeldCommitThread(store);
        Assert.True(held._entered.Wait(TimeSpan.FromSeconds(30)), "the store's commit thread did not reach the held write");
        return held;
    }

    public void Release() => _release.Set();

    void ICommittedWriteListener.Committed()
    {
        _entered.Set();
        _release.Wait();
    }

    public void Dispose()
    {
        _release.Set(); // a test that failed while holding lets the store go on
        Written.GetAwaiter().GetResult();
        _write.Dispose();
        _entered.Dispose();
        _release.Dispose();
    }
}
