namespace Pyralog.Storage.Native;

/// <summary>A segment's sync (for a flush or a compaction) handed to the commit thread (see PyramidStore.SyncBetweenGroups):
/// run once; a failure is the flush's or compaction's to raise, on its own thread, not the store's.</summary>
internal sealed class SegmentSync(Action sync)
{
    public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What the sync threw; read once <see cref="Done"/> completed.</summary>
    public Exception? Failure { get; private set; }

    public void Run()
    {
        try
        {
            sync();
        }
        catch (Exception e)
        {
            Failure = e;
        }

        Done.TrySetResult();
    }
}
