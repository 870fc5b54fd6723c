using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Routing;

/// <summary>
/// Sends a client's calls to a partition replica into the cluster at the silo hosting it. Orleans picks the gateway
/// for a client's call by a hash of the grain, not by where the grain lives: with three silos, two calls in three
/// entered at another silo, which read the batch, sent it on to the replica's silo and relayed the answer back (one
/// more hop and one more serialization each way, on every batch). Here the silo hosting a replica is looked up in
/// Orleans' grain directory (the management grain) when the replica is first called, again every
/// <see cref="RefreshInterval"/> and after a call to it failed, and calls go through <see cref="SiloGateways"/>'
/// connection to that silo. A route is a hint: while it is unknown, wrong (the replica moved) or its connection is
/// down, calls enter through the client's own gateways and Orleans forwards them, as without it.
/// </summary>
internal sealed class ReplicaRoutes(IClusterClient cluster, SiloGateways gateways, TimeProvider time)
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(30);

    /// <summary>How soon a lookup that failed or found the replica not activated is tried again.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();

    // Invariant: guarded by _gate; a route's Silo is where the directory had the replica at its last lookup (null: not
    // activated, lookup failed, or forgotten after a failed call); at most one lookup per route runs (Looking).
    private readonly Dictionary<string, ReplicaRoute> _routes = new(StringComparer.Ordinal);

    /// <summary>The grain factory whose calls to replica <paramref name="replicaKey"/> enter the cluster at its silo when that is known and connected; the client's own otherwise.</summary>
    public IGrainFactory For(string replicaKey)
    {
        SiloAddress? silo;
        ReplicaRoute? lookUp = null;
        lock (_gate)
        {
            if (!_routes.TryGetValue(replicaKey, out var route))
            {
                route = new ReplicaRoute();
                _routes[replicaKey] = route;
            }

            silo = route.Silo;
            if (!route.Looking && time.GetTimestamp() >= route.NextLookup)
            {
                route.Looking = true;
                lookUp = route;
            }
        }

        if (lookUp is not null)
        {
            _ = LookUpAsync(replicaKey, lookUp);
        }

        return Direct(silo) ?? cluster;
    }

    /// <summary>A call to the replica failed: the route is not used again before a new lookup.</summary>
    public void Forget(string replicaKey)
    {
        lock (_gate)
        {
            if (_routes.TryGetValue(replicaKey, out var route))
            {
                route.Silo = null;
                route.NextLookup = 0;
            }
        }
    }

    /// <summary>Drops the routes of the replicas of log ids <paramref name="logs"/> (deleted, or no longer used by this client).</summary>
    public void ForgetLogs(List<ulong> logs)
    {
        lock (_gate)
        {
            foreach (var key in _routes.Keys)
            {
                if (ReplicaGrainKey.TryParse(key, out var parsed) && logs.Contains(parsed.Log))
                {
                    _routes.Remove(key);
                }
            }
        }
    }

    /// <summary>The silo calls to the replica enter at now; null when they take the client's own gateways (for tests).</summary>
    public SiloAddress? RouteOf(string replicaKey)
    {
        SiloAddress? silo;
        lock (_gate)
        {
            silo = _routes.GetValueOrDefault(replicaKey)?.Silo;
        }

        return Direct(silo) is null ? null : silo;
    }

    private IClusterClient? Direct(SiloAddress? silo) => silo is null ? null : gateways.TryGet(silo);

    private async Task LookUpAsync(string replicaKey, ReplicaRoute route)
    {
        SiloAddress? silo = null;
        try
        {
            silo = await cluster.GetGrain<IManagementGrain>(0)
                .GetActivationAddress(cluster.GetGrain<IPartitionReplicaGrain>(replicaKey)).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Not known this time (a silo lost, the directory recovering): the calls take the client's gateways meanwhile.
        }

        lock (_gate)
        {
            route.Looking = false;
            route.Silo = silo;
            route.NextLookup = time.GetTimestamp() + (long)((silo is null ? RetryAfter : RefreshInterval).TotalSeconds * time.TimestampFrequency);
        }

        if (silo is not null)
        {
            gateways.TryGet(silo); // connect now, before the next call needs it
        }
    }
}
