namespace Pyralog.Storage.Native.Iteration;

/// <summary>Forward cursor over sorted entries of one source (a memtable part or a segment).
/// Spans stay valid until the next call that moves the cursor.</summary>
internal interface IEntryIterator
{
    bool Valid { get; }

    ReadOnlySpan<byte> Key { get; }

    ReadOnlySpan<byte> Value { get; }

    bool IsTombstone { get; }

    /// <summary>Positions at the first entry whose key is ≥ <paramref name="key"/>.</summary>
    void Seek(ReadOnlySpan<byte> key);

    void Next();
}
