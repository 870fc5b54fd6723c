using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native;

/// <summary>Reads: views taken under the view lock, then point lookups through memtables and segments.</summary>
public sealed partial class PyramidStore
{
    /// <summary>A view of everything published, with <paramref name="log"/>'s published bounds.</summary>
    private ReadView AcquireView(ulong log)
    {
        _logs.TryGetValue(log, out var stored);
        lock (_viewLock)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            return new ReadView(_active, _immutablesNewestFirst, _version, log, stored?.Published ?? LogSpaceState.Empty, _publishedSequence);
        }
    }

    /// <summary>The commit loop's own view: everything applied so far, including the frame being applied.</summary>
    private ReadView WriterView(StoredLog log, ulong sequence)
    {
        lock (_viewLock)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            return new ReadView(_active, _immutablesNewestFirst, _version, log.Id, log.Writer, sequence);
        }
    }

    /// <summary>Throws once DisposeAsync closed the store (it sets _closed while holding the flush and compaction locks).</summary>
    private void ThrowIfClosed()
    {
        lock (_viewLock)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
        }
    }

    private StoreVersion AcquireVersion()
    {
        lock (_viewLock)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            _version.AddReference();
            return _version;
        }
    }

    /// <summary>The metadata of every segment, per level (tests look at how records are laid out).</summary>
    internal SegmentMetadata[][] SegmentLayout()
    {
        var version = AcquireVersion();
        try
        {
            return [.. version.Levels.Select(level => level.Select(s => s.Metadata).ToArray())];
        }
        finally
        {
            version.Release();
        }
    }

    private static bool TryGetLog(ReadView view, ulong offset, ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        if (view.Active.TryGetLog(view.Log, offset, view.Sequence, out value))
        {
            return true;
        }

        foreach (var memtable in view.Immutables)
        {
            if (memtable.TryGetLog(view.Log, offset, view.Sequence, out value))
            {
                return true;
            }
        }

        return TryGetFromSegments(view, key, out _, out value);
    }

    private static bool TryGetKv(ReadView view, byte[] key, out byte[]? value)
    {
        value = null;
        if (!view.Active.Kv.TryFind(key, view.Sequence, out var version))
        {
            foreach (var memtable in view.Immutables)
            {
                if (memtable.Kv.TryFind(key, view.Sequence, out version))
                {
                    break;
                }
            }
        }

        if (!version.IsNull)
        {
            value = version.IsTombstone ? null : version.Value.ToArray();
            return value is not null;
        }

        if (TryGetFromSegments(view, key, out var kind, out var found) && kind == SegmentFormat.KindPut)
        {
            value = found.ToArray();
            return true;
        }

        return false;
    }

    private static bool TryGetFromSegments(ReadView view, ReadOnlySpan<byte> key, out byte kind, out ReadOnlySpan<byte> value)
    {
        var version = view.Version;
        var hash = BloomFilter.Hash(key);
        foreach (var segment in version.Levels[0])
        {
            if (segment.TryGet(view.Pins, key, hash, out kind, out value))
            {
                return true;
            }
        }

        for (var level = 1; level < version.Levels.Length; level++)
        {
            var segments = version.Levels[level];
            int low = 0, high = segments.Length - 1;
            while (low <= high)
            {
                var mid = (low + high) >>> 1;
                var segment = segments[mid];
                if (segment.Metadata.MaxKey.AsSpan().SequenceCompareTo(key) < 0)
                {
                    low = mid + 1;
                }
                else if (segment.Metadata.MinKey.AsSpan().SequenceCompareTo(key) > 0)
                {
                    high = mid - 1;
                }
                else
                {
                    if (segment.TryGet(view.Pins, key, hash, out kind, out value))
                    {
                        return true;
                    }

                    break;
                }
            }
        }

        kind = 0;
        value = default;
        return false;
    }
}
