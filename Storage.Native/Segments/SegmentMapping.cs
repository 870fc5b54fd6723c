using System.IO.MemoryMappedFiles;
using Pyralog.Storage.Native.Devices;

namespace Pyralog.Storage.Native.Segments;

/// <summary>
/// One read-only mapping of a segment file. Reference counted: the segment holds one reference while this is its
/// current mapping, and every reader that touched it (<see cref="SegmentPins"/>) one more until it lets go, so the
/// file is unmapped only when nobody can still hold a span into it, whenever <see cref="SegmentMapBudget"/> evicts it.
/// </summary>
internal sealed unsafe class SegmentMapping
{
    private readonly MemoryMappedViewAccessor _view;
    private readonly SegmentMapBudget _budget;

    // Invariant: > 0 while mapped; once it reaches 0 it never rises again (TryAddReference fails), and the view is gone.
    private int _references = 1;

    // Pins since the segment's index, bloom filter and meta block were last verified in this mapping. Counted without
    // atomics (a lost count only delays the next verification): the pin's reference count just wrote this line anyway.
    private int _pinsSinceVerified;

    private SegmentMapping(MemoryMappedViewAccessor view, byte* pointer, long length, SegmentMapBudget budget)
    {
        _view = view;
        _budget = budget;
        Base = pointer;
        Length = length;
    }

    public byte* Base { get; }

    public long Length { get; }

    /// <summary>Maps <paramref name="path"/>. The file's descriptor is closed once the view exists (a mapping outlives
    /// it), so a store's mapped segments do not also hold as many open files.</summary>
    public static SegmentMapping Map(IStorageDevice device, string path, long length, SegmentMapBudget budget)
    {
        using var map = device.MapReadOnly(path);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        try
        {
            byte* pointer = null;
            // AcquirePointer, not DangerousGetHandle: the handle's count keeps the view mapped even if this object is
            // collected while a span from it is read; only Release below unmaps it.
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            var mapping = new SegmentMapping(view, pointer + view.PointerOffset, length, budget);
            budget.OnMappingCreated();
            return mapping;
        }
        catch
        {
            view.Dispose();
            throw;
        }
    }

    /// <summary>Adds a reference unless the mapping is already gone (an eviction released it meanwhile).</summary>
    public bool TryAddReference()
    {
        var seen = Volatile.Read(ref _references);
        while (seen > 0)
        {
            var before = Interlocked.CompareExchange(ref _references, seen + 1, seen);
            if (before == seen)
            {
                return true;
            }

            seen = before;
        }

        return false;
    }

    /// <summary>Counts a pin of the mapping; true for the one caller whose pin makes it <paramref name="every"/> since the
    /// last verification (that caller verifies the mapping again, and the count starts over).</summary>
    public bool CountPin(int every)
    {
        if (++_pinsSinceVerified < every)
        {
            return false;
        }

        return Interlocked.Exchange(ref _pinsSinceVerified, 0) >= every;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _budget.OnMappingGone();
        }
    }

    /// <summary>Bytes of the mapping; only for ranges the caller verified or bounds-checked.</summary>
    public ReadOnlySpan<byte> Bytes(long position, int length) => new(Base + position, length);
}
