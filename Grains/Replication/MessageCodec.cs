using System.Buffers.Binary;
using Pyralog.Consensus;

namespace Pyralog.Grains.Replication;

/// <summary>
/// The wire form of Raft messages between replica grains: all messages for one target, from one driver pass, in one
/// byte array (one grain call carries them). Little-endian, fixed-width fields; entries' data are decoded as slices of
/// the received array, so a batch of a thousand records is copied once on each side, not once per entry.
/// Layout per message: type, reject, 12 × int64 (to, from, from/to incarnation, term, log term, index, commit, reject
/// hint, context, chunk offset, snapshot bytes), entry count, entries (index, term, type, length, data), snapshot flag
/// and (index, term, configuration, data).
/// </summary>
internal static class MessageCodec
{
    private const int FixedBytes = 2 + 12 * 8 + 4 + 1;
    private const int EntryHeaderBytes = 8 + 8 + 1 + 4;

    /// <summary>An envelope's bytes before its messages (the message count).</summary>
    public const int EnvelopeHeaderBytes = 4;

    /// <summary>The bytes <paramref name="m"/> takes in an envelope.</summary>
    public static int Size(Message m)
    {
        var size = FixedBytes;
        foreach (ref readonly var e in m.Entries.AsSpan())
        {
            size += EntryHeaderBytes + e.Data.Length;
        }

        if (m.Snapshot is { } s)
        {
            size += 8 + 8 + 4 + s.Config.Encode().Length + 4 + s.Data.Length;
        }

        return size;
    }

    /// <summary>
    /// Encodes <paramref name="messages"/> in order into envelopes of at most <paramref name="maxBytes"/> each (a
    /// message larger than that goes alone), added to <paramref name="into"/>.
    /// </summary>
    public static void EncodeInEnvelopes(ReadOnlySpan<Message> messages, int maxBytes, List<byte[]> into)
    {
        var first = 0;
        var size = EnvelopeHeaderBytes;
        for (var i = 0; i < messages.Length; i++)
        {
            var bytes = Size(messages[i]);
            if (i > first && size + bytes > maxBytes)
            {
                into.Add(Encode(messages[first..i], size));
                first = i;
                size = EnvelopeHeaderBytes;
            }

            size += bytes;
        }

        if (messages.Length > first)
        {
            into.Add(Encode(messages[first..], size));
        }
    }

    public static byte[] Encode(ReadOnlySpan<Message> messages)
    {
        var size = EnvelopeHeaderBytes;
        foreach (var m in messages)
        {
            size += Size(m);
        }

        return Encode(messages, size);
    }

    /// <summary>Encodes <paramref name="messages"/>, whose envelope takes <paramref name="size"/> bytes (header included).</summary>
    private static byte[] Encode(ReadOnlySpan<Message> messages, int size)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(size); // every byte is written below (checked at the end): no zeroing of up to 80 KB per envelope
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, messages.Length);
        var at = EnvelopeHeaderBytes;
        foreach (var m in messages)
        {
            span[at++] = (byte)m.Type;
            span[at++] = m.Reject ? (byte)1 : (byte)0;
            at = Write(span, at, m.To);
            at = Write(span, at, m.From);
            at = Write(span, at, m.FromIncarnation);
            at = Write(span, at, m.ToIncarnation);
            at = Write(span, at, m.Term);
            at = Write(span, at, m.LogTerm);
            at = Write(span, at, m.Index);
            at = Write(span, at, m.Commit);
            at = Write(span, at, m.RejectHint);
            at = Write(span, at, m.Context);
            at = Write(span, at, m.ChunkOffset);
            at = Write(span, at, m.SnapshotBytes);
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], m.Entries.Length);
            at += 4;
            foreach (ref readonly var e in m.Entries.AsSpan())
            {
                at = Write(span, at, e.Index);
                at = Write(span, at, e.Term);
                span[at++] = (byte)e.Type;
                BinaryPrimitives.WriteInt32LittleEndian(span[at..], e.Data.Length);
                at += 4;
                e.Data.Span.CopyTo(span[at..]);
                at += e.Data.Length;
            }

            if (m.Snapshot is { } snapshot)
            {
                span[at++] = 1;
                at = Write(span, at, snapshot.Index);
                at = Write(span, at, snapshot.Term);
                var config = snapshot.Config.Encode();
                BinaryPrimitives.WriteInt32LittleEndian(span[at..], config.Length);
                at += 4;
                config.CopyTo(span[at..]);
                at += config.Length;
                BinaryPrimitives.WriteInt32LittleEndian(span[at..], snapshot.Data.Length);
                at += 4;
                snapshot.Data.Span.CopyTo(span[at..]);
                at += snapshot.Data.Length;
            }
            else
            {
                span[at++] = 0;
            }
        }

        return at == size ? buffer : throw new InvalidOperationException($"message encoding wrote {at} of {size} bytes");
    }

    /// <summary>Decodes what <see cref="Encode"/> wrote; entry data and snapshot data are slices of <paramref name="buffer"/>.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a message list (truncated or garbled).</exception>
    public static Message[] Decode(byte[] buffer)
    {
        try
        {
            var span = buffer.AsSpan();
            var count = BinaryPrimitives.ReadInt32LittleEndian(span);
            if (count < 0 || count > buffer.Length / FixedBytes)
            {
                throw new InvalidDataException($"a Raft envelope of {buffer.Length} bytes claims {count} messages");
            }

            var messages = new Message[count];
            var at = 4;
            for (var i = 0; i < count; i++)
            {
                var type = (MessageType)span[at++];
                var reject = span[at++] != 0;
                var to = Read(span, ref at);
                var from = Read(span, ref at);
                var fromIncarnation = Read(span, ref at);
                var toIncarnation = Read(span, ref at);
                var term = Read(span, ref at);
                var logTerm = Read(span, ref at);
                var index = Read(span, ref at);
                var commit = Read(span, ref at);
                var rejectHint = Read(span, ref at);
                var context = Read(span, ref at);
                var chunkOffset = Read(span, ref at);
                var snapshotBytes = Read(span, ref at);
                var entryCount = BinaryPrimitives.ReadInt32LittleEndian(span[at..]);
                at += 4;
                if (entryCount < 0 || entryCount > (buffer.Length - at) / EntryHeaderBytes)
                {
                    throw new InvalidDataException($"a Raft message claims {entryCount} entries in {buffer.Length - at} bytes");
                }

                var entries = entryCount == 0 ? [] : new LogEntry[entryCount];
                for (var e = 0; e < entryCount; e++)
                {
                    var entryIndex = Read(span, ref at);
                    var entryTerm = Read(span, ref at);
                    var entryType = (EntryType)span[at++];
                    var length = BinaryPrimitives.ReadInt32LittleEndian(span[at..]);
                    at += 4;
                    entries[e] = new LogEntry(entryIndex, entryTerm, entryType, buffer.AsMemory(at, length));
                    at += length;
                }

                RaftSnapshot? snapshot = null;
                if (span[at++] == 1)
                {
                    var snapshotIndex = Read(span, ref at);
                    var snapshotTerm = Read(span, ref at);
                    var configLength = BinaryPrimitives.ReadInt32LittleEndian(span[at..]);
                    at += 4;
                    var config = ClusterConfig.Decode(span.Slice(at, configLength));
                    at += configLength;
                    var dataLength = BinaryPrimitives.ReadInt32LittleEndian(span[at..]);
                    at += 4;
                    snapshot = new RaftSnapshot(snapshotIndex, snapshotTerm, config, buffer.AsMemory(at, dataLength));
                    at += dataLength;
                }

                messages[i] = new Message
                {
                    Type = type, Reject = reject, To = to, From = from, FromIncarnation = fromIncarnation, ToIncarnation = toIncarnation,
                    Term = term, LogTerm = logTerm, Index = index, Commit = commit, RejectHint = rejectHint, Context = context,
                    ChunkOffset = chunkOffset, SnapshotBytes = snapshotBytes, Entries = entries, Snapshot = snapshot,
                };
            }

            return at == buffer.Length ? messages : throw new InvalidDataException($"a Raft envelope has {buffer.Length - at} bytes after its last message");
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            throw new InvalidDataException($"a Raft envelope of {buffer.Length} bytes is truncated", e);
        }
    }

    private static int Write(Span<byte> span, int at, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(span[at..], value);
        return at + 8;
    }

    private static long Read(ReadOnlySpan<byte> span, ref int at)
    {
        var value = BinaryPrimitives.ReadInt64LittleEndian(span[at..]);
        at += 8;
        return value;
    }
}
