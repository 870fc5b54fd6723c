using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace Pyralog.Client.Routing;

/// <summary>
/// This client's connections to single silos: per silo an Orleans client whose only gateway is that silo's, so a call
/// made through it enters the cluster at that silo. Made on first need (the silo's gateway endpoint read from the
/// membership table) and kept while the gateway answers; one that lost its gateway (the silo died or left) is closed,
/// and made again on a later need, at most once per <see cref="RetryAfter"/> per silo.
/// </summary>
internal sealed class SiloGateways(IClusterClient cluster, PyralogClientOptions options, TimeProvider time) : IAsyncDisposable
{
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    private readonly Lock _gate = new();

    // Invariant: guarded by _gate; one entry per silo asked for; an entry's Client is set only once its host started and
    // until it is dropped; no entry is added or connected once _disposed.
    private readonly Dictionary<SiloAddress, SiloGateway> _gateways = [];
    private bool _disposed;

    /// <summary>The open connection to <paramref name="silo"/>'s gateway; null while there is none (one is made unless an attempt failed within <see cref="RetryAfter"/>).</summary>
    public IClusterClient? TryGet(SiloAddress silo)
    {
        SiloGateway gateway;
        lock (_gate)
        {
            if (_gateways.TryGetValue(silo, out var known))
            {
                if (known.Client is { } client)
                {
                    return client;
                }

                if (known.Connecting || time.GetElapsedTime(known.FailedAt) < RetryAfter)
                {
                    return null;
                }
            }

            if (_disposed)
            {
                return null;
            }

            gateway = new SiloGateway { Connecting = true };
            _gateways[silo] = gateway;
        }

        _ = ConnectAsync(silo, gateway);
        return null;
    }

    private async Task ConnectAsync(SiloAddress silo, SiloGateway gateway)
    {
        IHost? host = null;
        try
        {
            var endpoint = await GatewayOfAsync(silo).ConfigureAwait(false);
            if (endpoint is not null)
            {
                host = PyralogClient.BuildHost(client =>
                {
                    client.UseStaticClustering(endpoint);
                    client.Configure<ClusterOptions>(o =>
                    {
                        o.ClusterId = options.ClusterId;
                        o.ServiceId = options.ServiceId;
                    });
                    client.AddClusterConnectionStatusObserver(new GatewayLossWatch(() => Drop(silo, gateway)));
                });
                using var timeout = new CancellationTokenSource(ConnectTimeout, time);
                await host.StartAsync(timeout.Token).ConfigureAwait(false);
                lock (_gate)
                {
                    if (!_disposed && _gateways.GetValueOrDefault(silo) == gateway)
                    {
                        gateway.Host = host;
                        gateway.Client = host.Services.GetRequiredService<IClusterClient>();
                        gateway.Connecting = false;
                        return;
                    }
                }
            }
        }
        catch (Exception)
        {
            // No connection: calls keep entering through the client's own gateways; tried again after RetryAfter.
        }

        lock (_gate)
        {
            gateway.Connecting = false;
            gateway.FailedAt = time.GetTimestamp();
        }

        if (host is not null)
        {
            await StopAsync(host).ConfigureAwait(false);
        }
    }

    /// <summary>The gateway endpoint the membership table gives an active silo; null when it has none.</summary>
    private async Task<IPEndPoint?> GatewayOfAsync(SiloAddress silo)
    {
        var hosts = await cluster.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: true).ConfigureAwait(false);
        foreach (var entry in hosts)
        {
            if (entry.SiloAddress.Equals(silo) && entry.ProxyPort > 0)
            {
                return new IPEndPoint(entry.SiloAddress.Endpoint.Address, entry.ProxyPort);
            }
        }

        return null;
    }

    private void Drop(SiloAddress silo, SiloGateway gateway)
    {
        IHost? host;
        lock (_gate)
        {
            if (_gateways.GetValueOrDefault(silo) != gateway || gateway.Host is null)
            {
                return;
            }

            host = gateway.Host;
            gateway.Host = null;
            gateway.Client = null;
            gateway.FailedAt = time.GetTimestamp();
        }

        _ = StopAsync(host);
    }

    private static async Task StopAsync(IHost host)
    {
        try
        {
            using var timeout = new CancellationTokenSource(ConnectTimeout);
            await host.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // A connection to a lost silo may fail to close cleanly; it is released all the same.
        }
        finally
        {
            host.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<IHost> hosts;
        lock (_gate)
        {
            _disposed = true;
            hosts = [.. _gateways.Values.Select(g => g.Host).OfType<IHost>()];
            foreach (var gateway in _gateways.Values)
            {
                gateway.Host = null;
                gateway.Client = null;
            }
        }

        await Task.WhenAll(hosts.Select(StopAsync)).ConfigureAwait(false);
    }
}
