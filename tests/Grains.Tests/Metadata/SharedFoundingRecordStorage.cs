using System.Collections.Concurrent;
using Orleans.Storage;
using Pyralog.Grains.Metadata;

namespace Pyralog.Grains.Tests.Metadata;

/// <summary>
/// Grain storage for the cluster's founding record that outlives a test cluster, as Redis outlives a real one: one
/// instance per <see cref="Name"/>, shared by the clusters a test starts one after another. ETag-fenced like a real
/// provider; <see cref="FailWrites"/> makes the next writes fail as an unreachable store's would.
/// </summary>
internal sealed class SharedFoundingRecordStorage : IGrainStorage
{
    public const string NameKey = "PyralogFoundingStorage";

    private static readonly ConcurrentDictionary<string, SharedFoundingRecordStorage> Instances = new();
    private readonly Lock _lock = new();
    private (string ETag, MetadataFoundingRecord Record)? _stored;
    private int _writesToFail;

    private SharedFoundingRecordStorage(string name) => Name = name;

    public string Name { get; }

    /// <summary>The record held, or null.</summary>
    public MetadataFoundingRecord? Record
    {
        get
        {
            lock (_lock)
            {
                return _stored?.Record;
            }
        }
    }

    /// <summary>Writes that succeeded.</summary>
    public int Writes { get; private set; }

    public static SharedFoundingRecordStorage Named(string name) => Instances.GetOrAdd(name, static n => new SharedFoundingRecordStorage(n));

    public static void Forget(string name) => Instances.TryRemove(name, out _);

    public void FailWrites(int count)
    {
        lock (_lock)
        {
            _writesToFail = count;
        }
    }

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        lock (_lock)
        {
            if (_stored is var (etag, record))
            {
                grainState.State = (T)(object)Copy(record);
                grainState.ETag = etag;
                grainState.RecordExists = true;
            }
            else
            {
                grainState.State = Activator.CreateInstance<T>();
                grainState.ETag = null;
                grainState.RecordExists = false;
            }
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        lock (_lock)
        {
            if (_writesToFail > 0)
            {
                _writesToFail--;
                throw new IOException($"the founding record's storage '{Name}' is unreachable (test)");
            }

            if (grainState.ETag != _stored?.ETag)
            {
                throw new InconsistentStateException($"ETag mismatch writing the founding record of {grainId}", grainState.ETag ?? "", _stored?.ETag ?? "");
            }

            var etag = Guid.NewGuid().ToString("N");
            _stored = (etag, Copy((MetadataFoundingRecord)(object)grainState.State!));
            Writes++;
            grainState.ETag = etag;
            grainState.RecordExists = true;
        }

        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        lock (_lock)
        {
            _stored = null;
            grainState.ETag = null;
            grainState.RecordExists = false;
        }

        return Task.CompletedTask;
    }

    private static MetadataFoundingRecord Copy(MetadataFoundingRecord record) => new() { FoundedAt = record.FoundedAt, RecordedBy = record.RecordedBy };
}
