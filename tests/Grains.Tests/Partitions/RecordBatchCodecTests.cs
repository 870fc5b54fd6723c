using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Partitions;

namespace Pyralog.Grains.Tests.Partitions;

public class RecordBatchCodecTests
{
    [Fact]
    public void Records_with_keys_headers_and_ids_decode_to_what_was_appended_at_their_offsets()
    {
        ProducerRecord[] records =
        [
            new("k1"u8.ToArray(), "v1"u8.ToArray(), [new RecordHeader("trace", "abc"u8.ToArray()), new RecordHeader("ünïcode", [])], 42),
            new(null, [], null, 0),
            new([], "v3"u8.ToArray()),
        ];
        var data = RecordBatchCodec.Encode(records, 1024, new BatchHeader(1_700_000_000_123, 99, 7));
        Assert.Equal(RecordBatchCodec.HeaderBytes + records.Sum(r => r.EncodedBytes), data.Length);
        Assert.Equal(3, RecordBatchCodec.Count(data));
        Assert.Equal(new BatchHeader(1_700_000_000_123, 99, 7), RecordBatchCodec.Header(data));
        var appended = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_500);

        var decoded = new List<CommittedRecord>();
        long budget = long.MaxValue;
        RecordBatchCodec.Decode(data, epoch: 7, firstOffset: 100, fromOffset: 100, appended, ref budget, decoded);
        Assert.Equal([100ul, 101, 102], decoded.Select(r => r.Offset));
        Assert.All(decoded, r => Assert.Equal(7ul, r.Epoch));
        Assert.All(decoded, r => Assert.Equal(appended, r.AppendTime));
        Assert.Equal("k1"u8.ToArray(), decoded[0].Key);
        Assert.Equal(42ul, decoded[0].Id);
        Assert.Equal(["trace", "ünïcode"], decoded[0].Headers!.Select(h => h.Name));
        Assert.Equal("abc"u8.ToArray(), decoded[0].Headers![0].Value);
        Assert.Null(decoded[1].Key);
        Assert.Empty(decoded[1].Value);
        Assert.Null(decoded[1].Headers);
        Assert.Equal([], decoded[2].Key!); // an empty key is not a missing key

        var tail = new List<CommittedRecord>();
        budget = 1;
        RecordBatchCodec.Decode(data, 7, 100, 101, appended, ref budget, tail);
        Assert.Equal([101ul], tail.Select(r => r.Offset)); // from an offset inside the entry; one record past the budget
    }

    [Fact]
    public void Bad_batches_are_refused_naming_the_record()
    {
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => RecordBatchCodec.Encode([], 1024)).Message);
        Assert.Contains("record 1", Assert.Throws<ArgumentException>(() => RecordBatchCodec.Encode([new(null, [1]), new(null, new byte[2000])], 1024)).Message);
        Assert.Contains("record 0", Assert.Throws<ArgumentException>(() => RecordBatchCodec.Encode([null!], 1024)).Message);
        // A header name's length is stored in 16 bits: one longer would be acknowledged and then misread by every read.
        Assert.Equal("record 1 of the batch has a header name of 65536 UTF-8 bytes (header 0; at most 65535) (Parameter 'records')",
            Assert.Throws<ArgumentException>(() => RecordBatchCodec.Encode(
                [new(null, [1]), new(null, [1], [new RecordHeader(new string('a', ProducerRecord.MaxHeaderNameBytes + 1), [])])], 1 << 20)).Message);
        var longestName = new ProducerRecord(null, [1], [new RecordHeader(new string('é', ProducerRecord.MaxHeaderNameBytes / 2), [7])]);
        var longest = RecordBatchCodec.Encode([longestName], 1 << 20);
        long budget = long.MaxValue;
        var decoded = new List<CommittedRecord>();
        RecordBatchCodec.Decode(longest, 1, 0, 0, default, ref budget, decoded);
        Assert.Equal(longestName.Headers![0].Name, decoded.Single().Headers!.Single().Name);
        Assert.Contains("record 0 of the batch has a null header (header 1)",
            Assert.Throws<ArgumentException>(() => RecordBatchCodec.Encode([new(null, [1], [new RecordHeader("a", []), null!])], 1024)).Message);
        Assert.Contains("record 0 of the batch has a header without a name (header 0: null)",
            Assert.Throws<ArgumentException>(() => RecordBatchCodec.Encode([new(null, [1], [new RecordHeader(null!, [])])], 1024)).Message);
        Assert.Contains("limit of one append", Assert.Throws<ArgumentException>(() =>
            RecordBatchCodec.Encode([.. Enumerable.Range(0, 20).Select(_ => new ProducerRecord(null, new byte[1 << 20]))], 2 << 20)).Message);
    }

    [Fact]
    public void A_truncated_batch_is_reported_as_damage()
    {
        var data = RecordBatchCodec.Encode([new(null, "value"u8.ToArray())], 1024);
        long budget = long.MaxValue;
        Assert.Throws<InvalidDataException>(() => RecordBatchCodec.Decode(data.AsSpan(0, data.Length - 3), 1, 0, 0, default, ref budget, []));
    }
}
