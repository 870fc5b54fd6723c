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
