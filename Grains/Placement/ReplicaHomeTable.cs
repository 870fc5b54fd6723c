using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Placement;

/// <summary>
/// This silo's copy of every log's replica homes (<see cref="ReplicaHomes"/>), for placement and for sending replicas
/// home. The metadata group is the truth; the copy is refreshed every <see cref="RefreshInterval"/>, on a miss, and
/// at once by the services on this silo that change homes (log creation, replica moves), which place the replicas they
/// change from this silo. A stale copy costs no safety: a replica placed away from its home rejoins its group as a new
/// incarnation and returns home later, exactly as after a silo failure.
/// </summary>
internal sealed class ReplicaHomeTable(IGrainFactory grains, TimeProvider time, ILogger<ReplicaHomeTable> logger) : SiloWatch
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(2);

    private readonly Lock _gate = new();

    // Invariant: per log id, the newest homes this silo has seen (largest Version); a log missing from a refresh's
    // answer is dropped (deleted).
    private Dictionary<ulong, ReplicaHomes> _homes = [];

    // Invariant: the metadata leader's applied index whose logs the last versioned refresh took (-1 before one did): a
    // refresh answered "unchanged" for it leaves the table as it is.
    private long _appliedIndex = -1;
    private Task? _refreshing;

    public bool TryGet(ulong log, [NotNullWhen(true)] out ReplicaHomes? homes)
    {
        lock (_gate)
        {
            return _homes.TryGetValue(log, out homes);
        }
    }

    /// <summary>Whether this silo has met no log yet (every replica activated here reads its log's homes first).</summary>
    public bool IsEmpty
    {
        get
        {
            lock (_gate)
            {
                return _homes.Count == 0;
            }
        }
    }

    /// <summary>Takes <paramref name="homes"/> for <paramref name="log"/> unless a newer view is known.</summary>
    public void Learn(ulong log, ReplicaHomes? homes)
    {
        if (homes is null)
        {
            return;
        }

        lock (_gate)
        {
            if (!_homes.TryGetValue(log, out var known) || known.Version <= homes.Version)
            {
                var next = new Dictionary<ulong, ReplicaHomes>(_homes) { [log] = homes };
                _homes = next;
            }
        }
    }

    /// <summary>
    /// The homes of <paramref name="log"/>; on a miss (or when <paramref name="slot"/> of <paramref name="partition"/>
    /// has no home here) it refreshes once, waiting at most <paramref name="wait"/>. Null when the log has no homes
    /// recorded (yet) or the metadata group did not answer in time.
    /// </summary>
    public async Task<ReplicaHomes?> GetAsync(ulong log, int partition, int slot, TimeSpan wait)
    {
        if (TryGet(log, out var homes) && homes.Home(partition, slot) is not null)
        {
            return homes;
        }

        try
        {
            await RefreshAsync().WaitAsync(wait, time);
        }
        catch (Exception e)
        {
            logger.LogDebug(e, "Could not read the replica homes of log {Log} from the metadata group", log);
        }

        return TryGet(log, out homes) ? homes : null;
    }

    /// <summary>
    /// The homes of <paramref name="log"/> as the metadata group has them now: a read that starts after this call (not
    /// one already under way), for a caller about to drop data. Null when the log has no homes (or no longer exists).
    /// </summary>
    public async Task<ReplicaHomes?> ReadNowAsync(ulong log)
    {
        foreach (var read in await ReadAllAsync())
        {
            if (read.Info.Id == log)
            {
                return read.Homes;
            }
        }

        return null;
    }

    /// <summary>
    /// Reads every log's homes as the metadata leader has applied them (one read at a time; callers share it): no Raft
    /// round, so the refresh every <see cref="RefreshInterval"/> on every silo does not keep the idle metadata group awake,
    /// and no logs in the answer when the leader's applied index is the one this table last took.
    /// </summary>
    public Task RefreshAsync()
    {
        lock (_gate)
        {
            return _refreshing ??= SharedReadAsync();
        }

        async Task SharedReadAsync()
        {
            try
            {
                await Task.Yield();
                long known;
                lock (_gate)
                {
                    known = _appliedIndex;
                }

                var view = await grains.GetGrain<IMetadataAdminGrain>(0).GetAppliedMetadataLogsAsync(known);
                if (view.Logs is { } logs)
                {
                    Take(logs);
                    lock (_gate)
                    {
                        _appliedIndex = view.AppliedIndex;
                    }
                }
            }
            finally
            {
                lock (_gate)
                {
                    _refreshing = null;
                }
            }
        }
    }

    /// <summary>
    /// Reads every log from the metadata group now (a read that starts after this call) and takes their homes (a view
    /// this silo had that is newer wins).
    /// </summary>
    public async Task<MetadataLog[]> ReadAllAsync()
    {
        var logs = await grains.GetGrain<IMetadataAdminGrain>(0).GetMetadataLogsAsync();
        Take(logs);
        return logs;
    }

    private void Take(MetadataLog[] logs)
    {
        lock (_gate)
        {
            var next = new Dictionary<ulong, ReplicaHomes>(logs.Length);
            foreach (var log in logs)
            {
                if (log.Homes is { } read)
                {
                    next[log.Info.Id] = _homes.TryGetValue(log.Info.Id, out var known) && known.Version > read.Version ? known : read;
                }
            }

            _homes = next;
        }
    }

    protected override async Task WatchAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(RefreshInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try
                {
                    bool known;
                    lock (_gate)
                    {
                        known = _homes.Count > 0;
                    }

                    // Until this silo has met a log (a miss reads them all) there is nothing to keep fresh, and
                    // reading would found the metadata group before anyone uses it.
                    if (known)
                    {
                        await RefreshAsync().WaitAsync(stopping);
                    }
                }
                catch (Exception e) when (!stopping.IsCancellationRequested)
                {
                    logger.LogDebug(e, "Could not refresh the replica homes from the metadata group");
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }
}
