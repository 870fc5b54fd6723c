using System.Collections.Concurrent;
using Pyralog.Client.Routing;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/// <summary>
/// A client's cache of logs by name (from <see cref="IPyralogAdminGrain"/> 0), shared by its producers and consumers.
/// An entry older than <see cref="RefreshInterval"/> is still used while a refresh runs in the background; callers
/// refresh at once when a replica answers in a way that may mean the log changed. One fetch per name at a time.
/// </summary>
internal sealed class CachedLogs(IGrainFactory grains, TimeProvider time, ReplicaRoutes? routes = null)
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();

    // Invariant: written only under _gate, read without it (every produced record looks its log up here).
    private readonly ConcurrentDictionary<string, CachedLog> _logs = new(StringComparer.Ordinal);

    // Per replica key, the reference last made and the factory (the route) it was made from: used while the route stays.
    private readonly ConcurrentDictionary<string, (IGrainFactory Factory, IPartitionReplicaGrain Grain)> _replicas = new(StringComparer.Ordinal);

    // Invariant: guarded by _gate; holds only fetches that have not completed.
    private readonly Dictionary<string, Task<CachedLog?>> _fetching = new(StringComparer.Ordinal);

    public IGrainFactory Grains => grains;

    public TimeProvider Time => time;

    /// <summary>
    /// A partition replica, called through the connection to its silo when <paramref name="replicaKey"/>'s route is known
    /// (see <see cref="ReplicaRoutes"/>). The reference is kept per route: Orleans' GetGrain resolves the grain type by
    /// reflection on every call, which took 7 % of a producing client's CPU when every batch made one.
    /// </summary>
    public IPartitionReplicaGrain Replica(string replicaKey)
    {
        var factory = routes?.For(replicaKey) ?? grains;
        if (_replicas.TryGetValue(replicaKey, out var known) && ReferenceEquals(known.Factory, factory))
        {
            return known.Grain;
        }

        var grain = factory.GetGrain<IPartitionReplicaGrain>(replicaKey);
        _replicas[replicaKey] = (factory, grain);
        return grain;
    }

    /// <summary>A call to the replica failed: when it failed as calls to a lost or unreachable silo do (a timeout, an Orleans transport error), the replica's route is looked up again before it is used.</summary>
    public void ReplicaFailed(string replicaKey, Exception failure)
    {
        if (failure is TimeoutException or OrleansException)
        {
            routes?.Forget(replicaKey);
        }
    }

    /// <summary>The cached log, if any (starting a background refresh when it is old); never waits.</summary>
    public bool TryGet(string name, out CachedLog log)
    {
        if (!_logs.TryGetValue(name, out log!))
        {
            return false;
        }

        if (time.GetElapsedTime(log.FetchedAt) >= RefreshInterval)
        {
            bool fetching;
            lock (_gate)
            {
                fetching = _fetching.ContainsKey(name);
            }

            if (!fetching)
            {
                RefreshInBackground(name);
            }
        }

        return true;
    }

    /// <summary>Starts reading the log again without waiting (after a timeout or a lost silo, or when the entry is old).</summary>
    public void RefreshInBackground(string name) =>
        // Observed so a failed background refresh (a silo lost) is not an unobserved task exception.
        _ = FetchAsync(name).ContinueWith(static t => _ = t.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>The log, from the cache or the metadata group.</summary>
    /// <exception cref="InvalidOperationException">No log has that name.</exception>
    public async ValueTask<CachedLog> GetAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (TryGet(name, out var log))
        {
            return log;
        }

        return await FetchAsync(name).WaitAsync(cancellationToken).ConfigureAwait(false) ?? throw Unknown(name);
    }

    /// <summary>What callers get for a name no log has.</summary>
    public static InvalidOperationException Unknown(string name) => new($"no log is named '{name}'");

    /// <summary>Reads the log from the metadata group now (joining a fetch already running); null when no log has the name (the cache forgets it).</summary>
    public Task<CachedLog?> FetchAsync(string name)
    {
        lock (_gate)
        {
            if (_fetching.TryGetValue(name, out var running))
            {
                return running;
            }

            var fetch = LoadAsync(name);
            if (!fetch.IsCompleted)
            {
                _fetching[name] = fetch; // removed by LoadAsync's finally, which needs _gate: after this line
            }

            return fetch;
        }
    }

    /// <summary>
    /// Whether <paramref name="log"/> is gone: no log has its name any more, or one with another id does (deleted and
    /// created again). A failure to ask is not an answer: it propagates.
    /// </summary>
    public async Task<bool> IsDeletedAsync(CachedLog log)
    {
        var now = await FetchAsync(log.Info.Name).ConfigureAwait(false);
        return now is null || now.Info.Id != log.Info.Id;
    }

    private async Task<CachedLog?> LoadAsync(string name)
    {
        try
        {
            var info = await grains.GetGrain<IPyralogAdminGrain>(0).GetLogAsync(name).ConfigureAwait(false);
            lock (_gate)
            {
                if (info is null)
                {
                    _logs.TryRemove(name, out _);
                    return null;
                }

                var now = time.GetTimestamp();
                var log = _logs.TryGetValue(name, out var old) ? old.Refreshed(info, now) : new CachedLog(info, now);
                _logs[name] = log;
                return log;
            }
        }
        finally
        {
            lock (_gate)
            {
                _fetching.Remove(name);
            }
        }
    }
}
