using Pyralog.Storage.Native.Iteration;

namespace Pyralog.Storage.Native.Memtables;

/// <summary>Iterates a memtable's skip list as of a snapshot sequence (newer versions are skipped).</summary>
internal sealed class MemtableKvIterator(KvSkipList list, ulong sequence) : IEntryIterator
{
    private KvNode _node;
    private KvVersion _version;

    public bool Valid => !_version.IsNull;

    public ReadOnlySpan<byte> Key => _node.Key;

    public ReadOnlySpan<byte> Value => _version.Value;

    public bool IsTombstone => _version.IsTombstone;

    public void Seek(ReadOnlySpan<byte> key)
    {
        _node = list.Seek(key);
        SkipInvisible();
    }

    public void Next()
    {
        if (!_node.IsNull)
        {
            _node = _node.Next;
        }

        SkipInvisible();
    }

    private void SkipInvisible()
    {
        while (!_node.IsNull)
        {
            _version = _node.VisibleAt(sequence);
            if (!_version.IsNull)
            {
                return;
            }

            _node = _node.Next;
        }

        _version = default;
    }
}
