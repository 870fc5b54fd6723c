using Microsoft.Extensions.Logging;
using Orleans.Storage;
using Pyralog.Grains.Hosting;

namespace Pyralog.Grains.Metadata;

/// <summary>
/// Holds the <see cref="MetadataFoundingRecord"/> in the <see cref="PyralogStorageNames.Cluster"/> grain storage. Every
/// read goes to storage: an operator may remove the record, and another activation (a duplicate after a partition of the
/// cluster) may have written it. A write that loses an ETag race finds the winner's record, which says the same.
/// </summary>
internal sealed class MetadataFoundingRecordGrain(
    [PersistentState("founding", PyralogStorageNames.Cluster)] IPersistentState<MetadataFoundingRecord> record,
    TimeProvider time,
    ILogger<MetadataFoundingRecordGrain> logger)
    : Grain, IMetadataFoundingRecordGrain
{
    public async Task<MetadataFoundingRecord?> ReadAsync()
    {
        await record.ReadStateAsync();
        return record.RecordExists ? record.State : null;
    }

    public async Task RecordAsync(string recordedBy)
    {
        if (await ReadAsync() is not null)
        {
            return;
        }

        await WriteAsync(recordedBy, replacing: false);
    }

    public async Task ReplaceAsync(string recordedBy)
    {
        await record.ReadStateAsync();
        await WriteAsync(recordedBy, replacing: true);
    }

    private async Task WriteAsync(string recordedBy, bool replacing)
    {
        record.State = new MetadataFoundingRecord { FoundedAt = time.GetUtcNow(), RecordedBy = recordedBy };
        try
        {
            await record.WriteStateAsync();
            logger.LogInformation(replacing
                ? "Recorded that the metadata group was founded again (by {Silo}), replacing the earlier record"
                : "Recorded that the metadata group is founded (by {Silo})", recordedBy);
        }
        catch (InconsistentStateException) when (!replacing)
        {
            await record.ReadStateAsync(); // another writer recorded it first: its record says the same
        }
    }
}
