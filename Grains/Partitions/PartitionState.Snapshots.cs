using System.Buffers.Binary;
using Pyralog.Consensus;

namespace Pyralog.Grains.Partitions;

/*
 * The partition's snapshot images (see the design comment in PartitionState.cs, "Retention and compaction"): the
 * compaction a retention command asked for is taken with the state as it was at that index, replayed into a scratch
 * state from the previous snapshot; a replica installing a snapshot restores from the image.
 */
internal sealed partial class PartitionState
{
    /// <summary>
    /// The compaction the last retention commands asked for, if it is beyond <paramref name="current"/> (the log's
    /// snapshot): the Raft index to compact to and the snapshot data (this state as it was at that index). Taken once.
    /// </summary>
    /// <exception cref="InvalidDataException">The entries since the snapshot cannot be read back.</exception>
    public (long Index, byte[] Data)? TakeCompaction(RaftSnapshot current)
    {
        var to = _compactTo;
        _compactTo = 0;
        if (to <= current.Index || to > AppliedIndex)
        {
            return null;
        }

        return (to, ImageAt(current, to));
    }

    /// <summary>The snapshot data of this partition at Raft index <paramref name="to"/>: <paramref name="from"/>'s image plus the entries after it.</summary>
    private byte[] ImageAt(RaftSnapshot from, long to)
    {
        var scratch = new PartitionState(_store, _storeLog, scratch: true);
        if (from.Index > 0)
        {
            scratch.RestoreImage(from.Data.Span, from.Index);
        }

        var expected = from.Index + 1;
        using (var cursor = _store.ReadLog(_storeLog, (ulong)expected, (ulong)to + 1))
        {
            while (cursor.MoveNext())
            {
                if ((long)cursor.Offset != expected)
                {
                    throw new InvalidDataException($"store log {_storeLog} has no Raft entry {expected} (found {cursor.Offset}) to compact");
                }

                var payload = cursor.Payload;
                scratch.Apply(expected, (long)cursor.Epoch, (EntryType)payload[0], payload[1..]);
                expected++;
            }
        }

        if (expected != to + 1)
        {
            throw new InvalidDataException($"store log {_storeLog} ends at Raft entry {expected - 1}, before {to}, the compaction point");
        }

        scratch.FirstOffset = scratch.NextOffset;
        scratch.DroppedBytes = scratch.TotalBytes;
        return scratch.EncodeImage();
    }

    public void Restore(RaftSnapshot snapshot)
    {
        // A snapshot's data is this partition's state at its index (ImageAt): the log before it is not here, so the
        // first readable offset is where the snapshot ends; the offset index of what this replica held goes.
        RestoreImage(snapshot.Data.Span, snapshot.Index);
        _recent.Clear();
        _unwrittenRecent = 0;
        _inFlightRecent = 0;
        _dropIndexBelow = FirstOffset;
        _droppedIndexBelow = 0;
        _compactTo = 0;
        _dirty = true;
        SignalChanged();
    }

    private void RestoreImage(ReadOnlySpan<byte> data, long index)
    {
        var stateLength = ImageStateLength(data);
        Decode(data.Slice(5, stateLength));
        Producers.ReplaceAll(data[(5 + stateLength)..]);
        AppliedIndex = index;
    }

    /// <summary>The next offset of snapshot data <paramref name="data"/>: where the records of the log after it start.</summary>
    private ulong ImageNextOffset(ReadOnlySpan<byte> data)
    {
        ImageStateLength(data);
        return BinaryPrimitives.ReadUInt64LittleEndian(data[(5 + 16)..]);
    }

    /// <summary>The length of the applied state inside snapshot data <paramref name="data"/> (it starts at byte 5).</summary>
    /// <exception cref="InvalidDataException">The data is not a partition snapshot of this version, or is too short.</exception>
    private int ImageStateLength(ReadOnlySpan<byte> data)
    {
        if (data.Length < 5 || data[0] != SnapshotVersion)
        {
            throw new InvalidDataException($"store log {_storeLog}: a partition snapshot of {data.Length} bytes is not of version {SnapshotVersion}");
        }

        var stateLength = BinaryPrimitives.ReadInt32LittleEndian(data[1..]);
        if (stateLength < AppliedHeaderBytes || 5 + stateLength > data.Length)
        {
            throw new InvalidDataException($"store log {_storeLog}: a partition snapshot of {data.Length} bytes is damaged");
        }

        return stateLength;
    }

    /// <summary>This state as snapshot data: version, the applied state's length and bytes, the producer table.</summary>
    private byte[] EncodeImage()
    {
        var state = Encode();
        var producers = Producers.EncodeAll();
        var buffer = new byte[5 + state.Length + producers.Length];
        buffer[0] = SnapshotVersion;
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(1), state.Length);
        state.CopyTo(buffer, 5);
        producers.CopyTo(buffer, 5 + state.Length);
        return buffer;
    }
}
