using System.Buffers.Binary;
using System.Text;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Partitions;

/// <summary>
/// The data of a Raft entry that carries records: a kind byte (1), the record count, the <see cref="BatchHeader"/>
/// (append time, producer id, first sequence), then per record its Scarab ID, key (length −1 = none), value and
/// headers, little-endian. Offsets are not stored: a record's offset is the entry's first offset (assigned when the
/// entry is applied, dense per partition) plus its position.
/// </summary>
internal static class RecordBatchCodec
{
    public const byte RecordsKind = 1;

    /// <summary>Bytes before the first record: kind, count, append time, producer id, first sequence.</summary>
    public const int HeaderBytes = 1 + 4 + 8 + 8 + 8;

    /// <summary>Encodes a batch, checking it against the log's limits first.</summary>
    /// <exception cref="ArgumentException">Empty batch, a malformed record (<see cref="ProducerRecord.FormatProblem"/>), record over <paramref name="maxRecordBytes"/>, batch over the batch limit (named).</exception>
    public static byte[] Encode(ProducerRecord[] records, int maxRecordBytes, BatchHeader header = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Length == 0)
        {
            throw new ArgumentException("an append needs at least one record (the batch is empty)", nameof(records));
        }

        long size = HeaderBytes;
        for (var i = 0; i < records.Length; i++)
        {
            var record = records[i] ?? throw new ArgumentException($"record {i} of the batch is null", nameof(records));
            if (record.FormatProblem() is { } problem)
            {
                throw new ArgumentException($"record {i} of the batch {problem}", nameof(records));
            }

            var bytes = record.EncodedBytes;
            if (bytes > maxRecordBytes)
            {
                throw new ArgumentException($"record {i} of the batch is {bytes} bytes, over the log's limit of {maxRecordBytes} bytes", nameof(records));
            }

            size += bytes;
        }

        if (size > LogSettings.MaxBatchBytes)
        {
            throw new ArgumentException($"the batch is {size} bytes, over the {LogSettings.MaxBatchBytes}-byte limit of one append; split it", nameof(records));
        }

        var buffer = GC.AllocateUninitializedArray<byte>((int)size); // at most MaxBatchBytes (checked above); every byte is written below (checked at the end): no zeroing
        var span = buffer.AsSpan();
        span[0] = RecordsKind;
        BinaryPrimitives.WriteInt32LittleEndian(span[1..], records.Length);
        BinaryPrimitives.WriteInt64LittleEndian(span[5..], header.AppendTimeMs);
        BinaryPrimitives.WriteInt64LittleEndian(span[13..], header.ProducerId);
        BinaryPrimitives.WriteInt64LittleEndian(span[21..], header.FirstSequence);
        var at = HeaderBytes;
        foreach (var record in records)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(span[at..], record.Id);
            at += 8;
            at = WriteBytes(span, at, record.Key);
            at = WriteBytes(span, at, record.Value);
            var headers = record.Headers ?? [];
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)headers.Length);
            at += 2;
            foreach (var recordHeader in headers)
            {
                var nameLength = Encoding.UTF8.GetBytes(recordHeader.Name, span[(at + 2)..]);
                BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)nameLength);
                at += 2 + nameLength;
                at = WriteBytes(span, at, recordHeader.Value);
            }
        }

        return at == size ? buffer : throw new InvalidOperationException($"record batch encoding wrote {at} of {size} bytes");
    }

    /// <summary>The number of records in an entry's data (0 for a no-op or anything that carries no records).</summary>
    public static int Count(ReadOnlySpan<byte> data) =>
        data.Length >= HeaderBytes && data[0] == RecordsKind ? BinaryPrimitives.ReadInt32LittleEndian(data[1..]) : 0;

    /// <summary>The header of a record entry's data (which must have records: <see cref="Count"/> &gt; 0).</summary>
    public static BatchHeader Header(ReadOnlySpan<byte> data) => new(
        BinaryPrimitives.ReadInt64LittleEndian(data[5..]),
        BinaryPrimitives.ReadInt64LittleEndian(data[13..]),
        BinaryPrimitives.ReadInt64LittleEndian(data[21..]));

    /// <summary>
    /// Adds the records of one entry with offsets ≥ <paramref name="fromOffset"/> to <paramref name="into"/>, counting
    /// their bytes against <paramref name="budget"/>; stops once the budget is spent (after at least one record overall).
    /// <paramref name="appendTime"/> is the entry's append time as the partition applied it (not decreasing).
    /// </summary>
    /// <exception cref="InvalidDataException">The entry's data is not a record batch it claims to be.</exception>
    public static void Decode(ReadOnlySpan<byte> data, ulong epoch, ulong firstOffset, ulong fromOffset, DateTimeOffset appendTime, ref long budget, List<CommittedRecord> into)
    {
        var count = Count(data);
        var at = HeaderBytes;
        try
        {
            for (var i = 0; i < count; i++)
            {
                var start = at;
                var id = BinaryPrimitives.ReadUInt64LittleEndian(data[at..]);
                at += 8;
                var key = ReadBytes(data, ref at);
                var value = ReadBytes(data, ref at) ?? throw new InvalidDataException("a record without a value");
                var headerCount = BinaryPrimitives.ReadUInt16LittleEndian(data[at..]);
                at += 2;
                RecordHeader[]? headers = headerCount == 0 ? null : new RecordHeader[headerCount];
                for (var h = 0; h < headerCount; h++)
                {
                    var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(data[at..]);
                    var name = Encoding.UTF8.GetString(data.Slice(at + 2, nameLength));
                    at += 2 + nameLength;
                    headers![h] = new RecordHeader(name, ReadBytes(data, ref at) ?? []);
                }

                var offset = firstOffset + (ulong)i;
                if (offset < fromOffset)
                {
                    continue;
                }

                if (budget <= 0 && into.Count > 0)
                {
                    return;
                }

                budget -= at - start;
                into.Add(new CommittedRecord(epoch, offset, id, key, value, headers, appendTime));
            }
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException($"a record batch at offset {firstOffset} is truncated", e);
        }
    }

    private static int WriteBytes(Span<byte> span, int at, byte[]? bytes)
    {
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], bytes is null ? -1 : bytes.Length);
        at += 4;
        if (bytes is not null)
        {
            bytes.CopyTo(span[at..]);
            at += bytes.Length;
        }

        return at;
    }

    private static byte[]? ReadBytes(ReadOnlySpan<byte> data, ref int at)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(data[at..]);
        at += 4;
        if (length < 0)
        {
            return null;
        }

        var bytes = data.Slice(at, length).ToArray();
        at += length;
        return bytes;
    }
}
