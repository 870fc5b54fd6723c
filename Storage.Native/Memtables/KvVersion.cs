namespace Pyralog.Storage.Native.Memtables;

/// <summary>One value of a key in a <see cref="KvSkipList"/> (or a delete), or null: a position in the list's arena.</summary>
internal readonly struct KvVersion(KvSkipList list, long at)
{
    public bool IsNull => at == 0;

    public ulong Sequence => list.SequenceAt(at);

    public bool IsTombstone => list.IsTombstoneAt(at);

    public ReadOnlySpan<byte> Value => list.ValueAt(at);

    /// <summary>The version written before this one, or null.</summary>
    public KvVersion Older => new(list, list.OlderAt(at));
}
