using Pyralog.Storage.Native;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>Holds a store's commit thread in the listener of the group it commits until released, so writes queued
/// behind that group stay queued.</summary>
internal sealed class HeldCommitThread(ManualResetEventSlim release) : ICommittedWriteListener
{
    public ManualResetEventSlim Entered { get; } = new();

    public void Committed()
    {
        Entered.Set();
        release.Wait();
    }
}
