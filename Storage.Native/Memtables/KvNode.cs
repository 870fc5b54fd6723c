namespace Pyralog.Storage.Native.Memtables;

/// <summary>A key in a <see cref="KvSkipList"/>, or null past the last one: a position in the list's arena.</summary>
internal readonly struct KvNode(KvSkipList list, long at)
{
    public bool IsNull => at == 0;

    public ReadOnlySpan<byte> Key => list.KeyAt(at);

    public KvNode Next => new(list, list.NextAt(at));

    /// <summary>The key's newest version.</summary>
    public KvVersion Latest => new(list, list.LatestAt(at));

    /// <summary>The newest version at or below <paramref name="sequence"/>, or a null version when all are newer.</summary>
    public KvVersion VisibleAt(ulong sequence)
    {
        var version = Latest;
        while (!version.IsNull && version.Sequence > sequence)
        {
            version = version.Older;
        }

        return version;
    }
}
