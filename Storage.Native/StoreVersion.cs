using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native;

/// <summary>
/// An immutable set of live segments per level (L0 newest first, deeper levels sorted by key).
/// Readers pin a version for the duration of a read or cursor; its segments stay mapped until the
/// last pin is released, so compaction can retire files underneath running scans.
/// </summary>
internal sealed class StoreVersion
{
    private int _references = 1;

    public StoreVersion(Segment[][] levels)
    {
        Levels = levels;
        foreach (var level in levels)
        {
            foreach (var segment in level)
            {
                segment.AddReference();
            }
        }
    }

    public Segment[][] Levels { get; }

    public void AddReference() => Interlocked.Increment(ref _references);

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            foreach (var level in Levels)
            {
                foreach (var segment in level)
                {
                    segment.Release();
                }
            }
        }
    }
}
