using Pyralog.Storage.Native.Iteration;

namespace Pyralog.Storage.Native.Memtables;

/// <summary>Iterates a memtable's skip list as of a snapshot sequence (newer versions are skipped).</summary>
internal sealed class MemtableKvIterator(KvSkipList list, ulong sequence) : IEntryIterator
{
    private KvSkipList.Node? _node;
    private KvSkipList.Version? _version;

    public bool Valid => _version is not null;

    public ReadOnlySpan<byte> Key => _node!.Key;

    public ReadOnlySpan<byte> Value => _version!.Value;

    public bool IsTombstone => _version!.IsTombstone;

    public void Seek(ReadOnlySpan<byte> key)
    {
        _node = list.Seek(key);
        SkipInvisible();
    }

    public void Next()
    {
        _node = _node?.NextNode;
        SkipInvisible();
    }

    private void SkipInvisible()
    {
        while (_node is not null)
        {
            _version = _node.VisibleAt(sequence);
            if (_version is not null)
            {
                return;
            }

            _node = _node.NextNode;
        }

        _version = null;
    }
}
