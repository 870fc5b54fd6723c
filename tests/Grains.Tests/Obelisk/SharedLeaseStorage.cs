using System.Collections.Concurrent;
using Orleans.Storage;
using Pyralog.Grains.Obelisk;

namespace Pyralog.Grains.Tests.Obelisk;

/// <summary>
/// Durable lease storage for an in-process test cluster: one table shared by every silo of the process, ETag-checked
/// like a real provider, that outlives any silo. Holds obelisk leases only.
/// </summary>
internal sealed class SharedLeaseStorage : IGrainStorage
{
    public static ConcurrentDictionary<GrainId, (string ETag, ObeliskLease Lease)> Records { get; } = new();

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (Records.TryGetValue(grainId, out var record))
        {
            grainState.State = (T)(object)Copy(record.Lease);
            grainState.ETag = record.ETag;
            grainState.RecordExists = true;
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var etag = Guid.NewGuid().ToString("N");
        var lease = Copy((ObeliskLease)(object)grainState.State!);
        var written = grainState.ETag is null
            ? Records.TryAdd(grainId, (etag, lease))
            : Records.TryGetValue(grainId, out var current) && current.ETag == grainState.ETag && Records.TryUpdate(grainId, (etag, lease), current);
        if (!written)
        {
            throw new InconsistentStateException($"ETag mismatch writing the lease of {grainId}", grainState.ETag ?? "", "");
        }

        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => throw new NotSupportedException();

    private static ObeliskLease Copy(ObeliskLease lease) => new()
    {
        Fence = lease.Fence,
        Holder = lease.Holder,
        LeaseExpiresUnixMs = lease.LeaseExpiresUnixMs,
        ReservedUntilMs = lease.ReservedUntilMs,
    };
}
