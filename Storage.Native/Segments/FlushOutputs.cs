namespace Pyralog.Storage.Native.Segments;

/// <summary>
/// The segments one flush writes. Each is completed without a sync as it ends, and all are synced together before the
/// manifest names them: a flush writing a segment per busy log lets the disk work on all of them at once.
/// </summary>
internal sealed class FlushOutputs : IDisposable
{
    private readonly List<SegmentWriter> _completed = [];

    /// <summary>The completed segments, in the order they were written (a failed flush deletes their files).</summary>
    public List<SegmentMetadata> Segments { get; } = [];

    /// <summary>Completes <paramref name="writer"/> (it must hold an entry) and takes it over.</summary>
    public void Complete(ref SegmentWriter? writer)
    {
        var segment = writer!;
        writer = null;
        _completed.Add(segment);
        Segments.Add(segment.Finish(sync: false));
    }

    /// <summary>Makes every completed segment durable.</summary>
    public void Sync()
    {
        foreach (var segment in _completed)
        {
            segment.Sync();
        }
    }

    /// <summary>Hands the synced log segments' pages back to the kernel (see <see cref="SegmentWriter.DropCachedPages"/>);
    /// key-space segments stay cached: they are small, and point reads and compactions come back to them.</summary>
    public void DropLogPages()
    {
        for (var i = 0; i < _completed.Count; i++)
        {
            if (Segments[i].LogCount > 0)
            {
                _completed[i].DropCachedPages();
            }
        }
    }

    public void Dispose()
    {
        foreach (var segment in _completed)
        {
            segment.Dispose();
        }
    }
}
