using System.Buffers.Binary;
using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Partitions;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

public class MessageCodecTests
{
    [Fact]
    public void Every_field_of_every_message_survives_the_wire()
    {
        var config = new ClusterConfig([new Member(1, 11), new Member(2, 22)], [new Member(3, 33, AutoPromote: true)]);
        List<Message> messages =
        [
            new()
            {
                Type = MessageType.Append, To = 2, From = 1, FromIncarnation = 11, ToIncarnation = 22, Term = 7, LogTerm = 6, Index = 41, Commit = 40,
                Entries = [new LogEntry(42, 7, EntryType.Normal, "records"u8.ToArray()), new LogEntry(43, 7, EntryType.Config, config.Encode()), new LogEntry(44, 7, EntryType.Normal, ReadOnlyMemory<byte>.Empty)],
            },
            new() { Type = MessageType.AppendResponse, To = 1, From = 2, FromIncarnation = 22, Term = 7, Index = 40, Reject = true, RejectHint = 39, LogTerm = 5 },
            new() { Type = MessageType.Heartbeat, To = 3, From = 1, FromIncarnation = 11, Term = 7, Commit = 44, Context = 9 },
            new()
            {
                Type = MessageType.InstallSnapshot, To = 3, From = 1, FromIncarnation = 11, Term = 7, ChunkOffset = 4, SnapshotBytes = 10,
                Snapshot = new RaftSnapshot(30, 6, config, "chunk"u8.ToArray()),
            },
        ];

        var encoded = MessageCodec.Encode(messages.ToArray());
        Assert.Equal(MessageCodec.EnvelopeHeaderBytes + messages.Sum(MessageCodec.Size), encoded.Length);
        var decoded = MessageCodec.Decode(encoded);

        Assert.Equal(messages.Count, decoded.Length);
        for (var i = 0; i < messages.Count; i++)
        {
            var (a, b) = (messages[i], decoded[i]);
            Assert.Equal(a.ToString(), b.ToString());
            Assert.Equal((a.RejectHint, a.Context, a.ChunkOffset, a.SnapshotBytes, a.LogTerm), (b.RejectHint, b.Context, b.ChunkOffset, b.SnapshotBytes, b.LogTerm));
            Assert.Equal(a.Entries.Length, b.Entries.Length);
            for (var e = 0; e < a.Entries.Length; e++)
            {
                Assert.Equal((a.Entries[e].Index, a.Entries[e].Term, a.Entries[e].Type), (b.Entries[e].Index, b.Entries[e].Term, b.Entries[e].Type));
                Assert.Equal(a.Entries[e].Data.ToArray(), b.Entries[e].Data.ToArray());
            }

            Assert.Equal(a.Snapshot is null, b.Snapshot is null);
            if (a.Snapshot is { } s)
            {
                Assert.Equal((s.Index, s.Term, s.Config.ToString()), (b.Snapshot!.Index, b.Snapshot.Term, b.Snapshot.Config.ToString()));
                Assert.Equal(s.Data.ToArray(), b.Snapshot.Data.ToArray());
            }
        }
    }

    [Fact]
    public void Messages_are_split_in_order_into_envelopes_of_at_most_the_limit_and_a_larger_one_goes_alone()
    {
        static Message Append(long index, int bytes) => new()
        {
            Type = MessageType.Append, To = 2, From = 1, FromIncarnation = 1, Term = 1, Index = index - 1,
            Entries = [new LogEntry(index, 1, EntryType.Normal, new byte[bytes])],
        };

        Message[] messages = [Append(1, 30_000), Append(2, 30_000), Append(3, 30_000), Append(4, 100_000), Append(5, 10), Append(6, 10)];
        var envelopes = new List<byte[]>();
        MessageCodec.EncodeInEnvelopes(messages, 80_000, envelopes);

        var decoded = envelopes.ConvertAll(MessageCodec.Decode);
        Assert.Equal([[1L, 2], [3], [4], [5, 6]], decoded.Select(e => e.Select(m => m.Entries[0].Index).ToArray()));
        Assert.All(envelopes, e => Assert.True(e.Length <= 80_000 || MessageCodec.Decode(e).Length == 1, $"an envelope of {e.Length} bytes"));
    }

    [Fact]
    public void A_truncated_or_padded_envelope_is_refused_not_misread()
    {
        var bytes = MessageCodec.Encode([new Message { Type = MessageType.Append, To = 2, From = 1, FromIncarnation = 1, Term = 1, Entries = [new LogEntry(1, 1, EntryType.Normal, new byte[100])] }]);
        for (var cut = 0; cut < bytes.Length; cut += 7)
        {
            Assert.Throws<InvalidDataException>(() => MessageCodec.Decode(bytes[..cut]));
        }

        Assert.Throws<InvalidDataException>(() => MessageCodec.Decode([.. bytes, 0]));
    }

    [Theory]
    [InlineData(-1, 0)]
    [InlineData(0, -1)]
    [InlineData(int.MaxValue, 0)]
    [InlineData(3, int.MaxValue)]
    public void A_snapshot_configuration_claiming_counts_its_bytes_cannot_hold_is_refused(int voters, int learners)
    {
        var config = new ClusterConfig([new Member(1, 11), new Member(2, 22)], []);
        var bytes = MessageCodec.Encode([new Message { Type = MessageType.InstallSnapshot, To = 2, From = 1, FromIncarnation = 1, Term = 1, Snapshot = new RaftSnapshot(5, 1, config, new byte[3]) }]);
        var at = bytes.AsSpan().IndexOf(config.Encode());
        Assert.True(at > 0);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), voters);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at + 4), learners);
        Assert.Throws<InvalidDataException>(() => MessageCodec.Decode(bytes));
    }

    [Fact]
    public void A_batch_of_the_producers_default_size_reaches_a_follower_below_the_large_object_threshold()
    {
        // The leader's entry, its envelope and the follower's received copy of a default-sized batch must all fit the
        // envelope size, which stays under .NET's large-object threshold (see ReplicaDriver.EnvelopeBytes).
        var records = new List<ProducerRecord>();
        var bytes = RecordBatchCodec.HeaderBytes;
        var recordBytes = new ProducerRecord(null, new byte[100]).EncodedBytes;
        while (bytes + 2 * recordBytes <= LogSettings.LargeObjectSafeBatchBytes)
        {
            records.Add(new ProducerRecord(null, new byte[100]));
            bytes += recordBytes;
        }

        var fill = LogSettings.LargeObjectSafeBatchBytes - bytes - new ProducerRecord(null, []).EncodedBytes;
        records.Add(new ProducerRecord(null, new byte[fill]));
        var entry = RecordBatchCodec.Encode([.. records], LogSettings.DefaultMaxRecordBytes, new BatchHeader(1, 2, 3));
        Assert.Equal(LogSettings.LargeObjectSafeBatchBytes, entry.Length);

        var envelope = MessageCodec.Encode([new Message { Type = MessageType.Append, To = 2, From = 1, FromIncarnation = 11, Term = 3, Index = 9, Entries = [new LogEntry(10, 3, EntryType.Normal, entry)] }]);
        Assert.InRange(envelope.Length, entry.Length, ReplicaDriver.EnvelopeBytes);
    }
}
