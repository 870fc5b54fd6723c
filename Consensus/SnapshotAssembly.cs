namespace Pyralog.Consensus;

/// <summary>
/// Reassembles a snapshot a leader sends in chunks of bounded bytes (<see cref="RaftOptions.MaxSnapshotChunkBytes"/>),
/// in any order and with duplicates, as the network delivers them. Chunks of one snapshot are identified by the
/// leader, its term and the snapshot index; a chunk of another snapshot starts over (a lost chunk is recovered by
/// the leader resending the whole snapshot after a few heartbeats), except a chunk of an older snapshot from the same
/// leader and term, which is ignored: a leader's snapshot only moves forward within its term, so such a chunk is a
/// late resend that would otherwise wipe the newer one's progress (and the newer one's chunks then wipe it in turn).
/// </summary>
internal sealed class SnapshotAssembly
{
    private readonly HashSet<long> _offsets = [];
    private long _from;
    private long _term;
    private long _index;

    // Invariant: _buffer is null or has the declared total length of the snapshot identified by (_from, _term,
    // _index), and _received is the byte count of the distinct chunks (_offsets) copied into it.
    private byte[]? _buffer;
    private long _received;

    /// <summary>Bytes held for the snapshot being assembled (0 when none is).</summary>
    public long BufferedBytes => _buffer?.Length ?? 0;

    /// <summary>Adds one chunk; returns the whole snapshot once every byte has arrived.</summary>
    public RaftSnapshot? Add(Message m)
    {
        var chunk = m.Snapshot!;
        if (_buffer is not null && m.From == _from && m.Term == _term && chunk.Index < _index)
        {
            return null;
        }

        if (_buffer is null || m.From != _from || m.Term != _term || chunk.Index != _index || _buffer.Length != m.SnapshotBytes)
        {
            _from = m.From;
            _term = m.Term;
            _index = chunk.Index;
            _buffer = new byte[m.SnapshotBytes];
            _received = 0;
            _offsets.Clear();
        }

        if (m.ChunkOffset + chunk.Data.Length > _buffer.Length || !_offsets.Add(m.ChunkOffset))
        {
            return null;
        }

        chunk.Data.Span.CopyTo(_buffer.AsSpan((int)m.ChunkOffset));
        _received += chunk.Data.Length;
        if (_received < _buffer.Length)
        {
            return null;
        }

        var whole = chunk with { Data = _buffer };
        Release();
        return whole;
    }

    /// <summary>Drops a partial snapshot at or below <paramref name="committed"/>: it could never be installed.</summary>
    public void ReleaseCoveredBy(long committed)
    {
        if (_buffer is not null && _index <= committed)
        {
            Release();
        }
    }

    /// <summary>Drops the partial snapshot, if any (its leader's term is over).</summary>
    public void Release()
    {
        _buffer = null;
        _received = 0;
        _offsets.Clear();
    }
}
