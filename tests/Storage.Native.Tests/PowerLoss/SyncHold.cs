namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>An fdatasync held before it starts (see <see cref="PowerLossDevice.HoldNextSync"/>) until the test releases it.</summary>
internal sealed class SyncHold(string namePrefix, string? threadName)
{
    private readonly ManualResetEventSlim _released = new();

    /// <summary>Completes once the held sync has reached the device.</summary>
    public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool Matches(string path) =>
        Path.GetFileName(path).StartsWith(namePrefix, StringComparison.Ordinal) && (threadName is null || Thread.CurrentThread.Name == threadName);

    public void Release() => _released.Set();

    /// <summary>Called by the syncing thread: says it is here, then waits (at most a minute, so a failing test ends).</summary>
    internal void Wait()
    {
        Reached.TrySetResult();
        _released.Wait(TimeSpan.FromMinutes(1));
    }
}
