namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// One record to append: an optional key (partitioning and compaction), the value, optional headers and an optional
/// Scarab ID the producer assigned (0 = none). Records travel in batches: one grain call, one Raft entry.
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.ProducerRecord")]
public sealed record ProducerRecord(
    [property: Id(0)] byte[]? Key,
    [property: Id(1)] byte[] Value,
    [property: Id(2)] RecordHeader[]? Headers = null,
    [property: Id(3)] ulong Id = 0)
{
    /// <summary>Most headers one record carries: the count is stored in 16 bits.</summary>
    public const int MaxHeaders = ushort.MaxValue;

    /// <summary>Most UTF-8 bytes in a header's name: the length is stored in 16 bits.</summary>
    public const int MaxHeaderNameBytes = ushort.MaxValue;

    /// <summary>
    /// What makes this record unfit for any log, as the rest of a sentence about it ("has no value (null)"), or null.
    /// Checked by the producer before it batches a record and by the partition before it appends a batch; call it
    /// before <see cref="EncodedBytes"/>, which assumes a well-formed record.
    /// </summary>
    public string? FormatProblem()
    {
        if (Value is null)
        {
            return "has no value (null)";
        }

        if (Headers is null)
        {
            return null;
        }

        if (Headers.Length > MaxHeaders)
        {
            return $"has {Headers.Length} headers (at most {MaxHeaders})";
        }

        for (var h = 0; h < Headers.Length; h++)
        {
            if (Headers[h] is not { } header)
            {
                return $"has a null header (header {h})";
            }

            if (header.Name is null)
            {
                return $"has a header without a name (header {h}: null)";
            }

            if (header.Value is null)
            {
                return $"has a header without a value (header {h}, '{header.Name}': null)";
            }

            // Counted only when it could be too long: a UTF-16 char is at most 3 UTF-8 bytes.
            if (header.Name.Length > MaxHeaderNameBytes / 3 && System.Text.Encoding.UTF8.GetByteCount(header.Name) is var nameBytes &&
                nameBytes > MaxHeaderNameBytes)
            {
                return $"has a header name of {nameBytes} UTF-8 bytes (header {h}; at most {MaxHeaderNameBytes})";
            }
        }

        return null;
    }

    /// <summary>Bytes this record occupies in its Raft entry (what the per-record and per-batch limits count).</summary>
    public int EncodedBytes
    {
        get
        {
            var bytes = 8 + 4 + (Key?.Length ?? 0) + 4 + Value.Length + 2;
            if (Headers is not null)
            {
                foreach (var header in Headers)
                {
                    bytes += 2 + System.Text.Encoding.UTF8.GetByteCount(header.Name) + 4 + header.Value.Length;
                }
            }

            return bytes;
        }
    }
}
