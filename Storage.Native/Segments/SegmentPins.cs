namespace Pyralog.Storage.Native.Segments;

/// <summary>
/// The segment mappings one reader (a read view, a compaction) touched: each stays mapped, whatever the budget
/// evicts meanwhile, until <see cref="Release"/>, because the reader may hold spans into it until then.
/// Used by one thread at a time, as its reader is.
/// </summary>
internal sealed class SegmentPins
{
    private SegmentMapping? _first;
    private List<SegmentMapping>? _more;

    public void Add(SegmentMapping mapping)
    {
        if (_first is null)
        {
            _first = mapping;
            return;
        }

        (_more ??= []).Add(mapping);
    }

    /// <summary>Lets go of one pin of <paramref name="mapping"/> (a reader done with that segment before the rest).</summary>
    public void Release(SegmentMapping mapping)
    {
        if (ReferenceEquals(_first, mapping))
        {
            _first = null;
            if (_more is { Count: > 0 } more)
            {
                _first = more[^1];
                more.RemoveAt(more.Count - 1);
            }
        }
        else
        {
            var more = _more ?? throw new InvalidOperationException("the mapping is not pinned here");
            var at = more.LastIndexOf(mapping);
            if (at < 0)
            {
                throw new InvalidOperationException("the mapping is not pinned here");
            }

            more[at] = more[^1];
            more.RemoveAt(more.Count - 1);
        }

        mapping.Release();
    }

    /// <summary>Lets go of every pin; the pins object can be used again afterwards.</summary>
    public void Release()
    {
        _first?.Release();
        _first = null;
        if (_more is { } more)
        {
            foreach (var mapping in more)
            {
                mapping.Release();
            }

            more.Clear();
        }
    }
}
