namespace Pyralog.Grains.Metadata;

/// <summary>The cluster's <see cref="MetadataFoundingRecord"/> (key 0).</summary>
[Alias("pyralog.IMetadataFoundingRecordGrain")]
public interface IMetadataFoundingRecordGrain : IGrainWithIntegerKey
{
    /// <summary>The record as storage holds it now (read afresh), or null when the group was never recorded founded.</summary>
    [Alias("ReadAsync")]
    Task<MetadataFoundingRecord?> ReadAsync();

    /// <summary>Records that the group is founded, stamped now by <paramref name="recordedBy"/>; keeps an earlier record.</summary>
    [Alias("RecordAsync")]
    Task RecordAsync(string recordedBy);

    /// <summary>Writes a new record over the one held (a deliberate re-founding, see <c>Pyralog:RefoundMetadataGroup</c>).</summary>
    [Alias("ReplaceAsync")]
    Task ReplaceAsync(string recordedBy);
}
