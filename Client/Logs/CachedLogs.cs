using System.Collections.Concurrent;
using Pyralog.Client.Routing;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/// <summary>
/// A client's cache of logs by name (from <see cref="IPyralogAdminGrain"/> 0), shared by its producers and consumers.
/// An entry older than <see cref="RefreshInterval"/> is still used while a refresh runs in the background; callers
/// refresh at once when a replica answers in a way that may mean the log changed. One fetch per name at a time.
/// A log found deleted, and one nobody looked up for <see cref="ForgetAfter"/>, is forgotten with the replica references
/// and routes of its id, and <see cref="Forgotten"/> tells the producers sharing the cache to drop their state for it:
/// a long-running client of a cluster whose logs come and go keeps only what it uses.
/// </summary>
internal sealed class CachedLogs(IGrainFactory grains, TimeProvider time, ReplicaRoutes? routes = null)
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(30);

    /// <summary>How long a log nobody looks up stays cached (checked at most every <see cref="RefreshInterval"/>, when a fetch completes).</summary>
    public static readonly TimeSpan ForgetAfter = TimeSpan.FromMinutes(10);

    private readonly Lock _gate = new();

    // Invariant: written only under _gate, read without it (every produced record looks its log up here).
    private readonly ConcurrentDictionary<string, CachedLog> _logs = new(StringComparer.Ordinal);

    // Per replica key, the reference last made and the factory (the route) it was made from: used while the route stays.
    private readonly ConcurrentDictionary<string, (IGrainFactory Factory, IPartitionReplicaGrain Grain)> _replicas = new(StringComparer.Ordinal);

    // Invariant: guarded by _gate; holds only fetches that have not completed.
    private readonly Dictionary<string, Task<CachedLog?>> _fetching = new(StringComparer.Ordinal);

    // Invariant: guarded by _gate; when the cache last looked for logs unused for ForgetAfter.
    private long _sweptAt = time.GetTimestamp();

    /// <summary>Raised (outside the cache's lock) after logs were forgotten: a producer drops its state for every log id the cache no longer holds.</summary>
    public event Action? Forgotten;

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

        var now = time.GetTimestamp();
        log.Used(now, time.TimestampFrequency);
        if (time.GetElapsedTime(log.FetchedAt, now) >= RefreshInterval)
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
        AbandonedCall.Observe(FetchAsync(name)); // a failed background refresh (a silo lost) is nobody's to see

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

    /// <summary>
    /// Whether a failed read of a log's metadata may succeed when made again: a timeout or transport failure (the metadata
    /// leader's silo lost), the metadata group without a leader yet, or a metadata replica not running yet. An answer
    /// that no log has the name is not a failure (<see cref="FetchAsync"/> returns null).
    /// </summary>
    public static bool IsTransient(Exception failure) => failure is TimeoutException or OrleansException or NotLeaderException or InvalidOperationException;

    /// <summary>How long to wait before reading a log's metadata again after <paramref name="failures"/> failed reads in a row (0: the first): 50 ms doubling to 1 s.</summary>
    public static TimeSpan ReadBackoff(int failures) => TimeSpan.FromMilliseconds(Math.Min(50 << Math.Min(failures, 5), 1000));

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

    /// <summary>Whether the cache holds log id <paramref name="id"/> under <paramref name="name"/> (not a use: does not keep it cached).</summary>
    public bool Holds(string name, ulong id) => _logs.TryGetValue(name, out var log) && log.Info.Id == id;

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
        List<ulong>? forgotten = null;
        try
        {
            var info = await grains.GetGrain<IPyralogAdminGrain>(0).GetLogAsync(name).ConfigureAwait(false);
            lock (_gate)
            {
                var now = time.GetTimestamp();
                var known = _logs.TryGetValue(name, out var old);
                if (known && old!.Info.Id != info?.Id)
                {
                    (forgotten ??= []).Add(old.Info.Id); // deleted (and perhaps created again under another id)
                }

                CachedLog? log = null;
                if (info is null)
                {
                    _logs.TryRemove(name, out _);
                }
                else
                {
                    log = known ? old!.Refreshed(info, now) : new CachedLog(info, now);
                    _logs[name] = log;
                }

                if (time.GetElapsedTime(_sweptAt, now) >= RefreshInterval)
                {
                    _sweptAt = now;
                    SweepLocked(now, ref forgotten);
                }

                return log;
            }
        }
        finally
        {
            lock (_gate)
            {
                _fetching.Remove(name);
            }

            if (forgotten is not null)
            {
                Forget(forgotten);
            }
        }
    }

    /// <summary>Drops the logs nobody looked up for <see cref="ForgetAfter"/> (under _gate).</summary>
    private void SweepLocked(long now, ref List<ulong>? forgotten)
    {
        foreach (var (name, log) in _logs)
        {
            if (time.GetElapsedTime(log.UsedAt, now) >= ForgetAfter && !_fetching.ContainsKey(name))
            {
                _logs.TryRemove(name, out _);
                (forgotten ??= []).Add(log.Info.Id);
            }
        }
    }

    /// <summary>Drops the replica references and routes of the forgotten log ids and tells the producers.</summary>
    private void Forget(List<ulong> ids)
    {
        foreach (var key in _replicas.Keys)
        {
            if (ReplicaGrainKey.TryParse(key, out var parsed) && ids.Contains(parsed.Log))
            {
                _replicas.TryRemove(key, out _);
            }
        }

        routes?.ForgetLogs(ids);
        Forgotten?.Invoke();
    }
}
