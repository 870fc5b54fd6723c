using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Pyralog.Client.Cluster;
using Pyralog.Client.Logs;
using Pyralog.Client.Obelisk;
using Pyralog.Client.Routing;
using Pyralog.Grains.Interfaces;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Networking;
using StackExchange.Redis;

namespace Pyralog.Client;

/// <summary>A connection to a Pyralog cluster.</summary>
public sealed class PyralogClient : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly Lazy<ScarabIdGenerator> _ids;
    private readonly CachedLogs _logs;

    private readonly SiloGateways? _gateways;

    private PyralogClient(IHost host, PyralogClientOptions options)
    {
        _host = host;
        Cluster = host.Services.GetRequiredService<IClusterClient>();
        _ids = new Lazy<ScarabIdGenerator>(() => new ScarabIdGenerator(Cluster, new ScarabIdGeneratorOptions()));
        if (options.DirectRouting)
        {
            _gateways = new SiloGateways(Cluster, options, TimeProvider.System);
            Routes = new ReplicaRoutes(Cluster, _gateways, TimeProvider.System);
        }

        _logs = new CachedLogs(Cluster, TimeProvider.System, Routes);
    }

    /// <summary>Where calls to each replica enter the cluster (null when <see cref="PyralogClientOptions.DirectRouting"/> is off).</summary>
    internal ReplicaRoutes? Routes { get; }

    /// <summary>
    /// The grain factory whose calls to partition replica <paramref name="replicaKey"/> enter the cluster at the silo
    /// hosting it, as this client's producers and consumers call it (see <see cref="PyralogClientOptions.DirectRouting"/>);
    /// <see cref="Cluster"/> while that silo is not known or not connected, or with direct routing off.
    /// </summary>
    public IGrainFactory GrainsFor(string replicaKey) => Routes?.For(replicaKey) ?? Cluster;

    /// <summary>
    /// A partition replica's grain, called through <see cref="GrainsFor"/>, as this client's producers and consumers call
    /// it: the reference is kept per route (Orleans' <c>GetGrain</c> resolves the grain type by reflection on every call).
    /// </summary>
    public IPartitionReplicaGrain Replica(string replicaKey) => _logs.Replica(replicaKey);

    /// <summary>The Orleans client underneath, for calling grains directly.</summary>
    public IClusterClient Cluster { get; }

    /// <summary>A Scarab ID generator with default options, shared by this client's callers.</summary>
    public IScarabIdGenerator Ids => _ids.Value;

    /// <summary>Connects, retrying until <see cref="PyralogClientOptions.ConnectTimeout"/>.</summary>
    /// <exception cref="PyralogConnectionException">No silo of the cluster answered in time; the message says where the client looked and what it found.</exception>
    public static async Task<PyralogClient> ConnectAsync(PyralogClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PyralogClientOptions();
        options.Validate();
        var host = BuildHost(client =>
        {
            switch (options.Membership)
            {
                case MembershipMode.Redis:
                    var redis = ConfigurationOptions.Parse(options.RedisConnectionString!);
                    client.UseRedisClustering(o => o.ConfigurationOptions = redis);
                    client.Configure<ClusterOptions>(o =>
                    {
                        o.ClusterId = options.ClusterId;
                        o.ServiceId = options.ServiceId;
                    });
                    break;
                default:
                    client.UseLocalhostClustering([.. options.GatewayPorts], options.ServiceId, options.ClusterId);
                    break;
            }

            client.UseConnectionRetryFilter(new ConnectRetryFilter(options.ConnectTimeout, TimeProvider.System));
        });
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            host.Dispose(); // its gateway manager and connections were already running
            throw;
        }
        catch (Exception e)
        {
            host.Dispose();
            throw new PyralogConnectionException(await DescribeFailureAsync(options, e).ConfigureAwait(false), e);
        }

        return new PyralogClient(host, options);
    }

    /// <summary>An Orleans client host as every connection of a Pyralog client is made: quiet logs, trace propagation, <paramref name="membership"/> saying how it finds gateways.</summary>
    internal static IHost BuildHost(Action<IClientBuilder> membership)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], DisableDefaults = true });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Orleans", LogLevel.None);
        builder.UseOrleansClient(client =>
        {
            client.UseInlineSockets();
            client.AddActivityPropagation(); // a produce's span is the parent of Orleans' call span and the leader's append
            membership(client);
        });
        return builder.Build();
    }

    /// <summary>
    /// Says where the client looked and what it found there. Orleans reports a gateway of another cluster (a wrong
    /// cluster id) like one that does not exist, so the ports are tried once more: one that accepts a connection but
    /// whose silo did not answer points at the cluster id rather than at the port.
    /// </summary>
    private static async Task<string> DescribeFailureAsync(PyralogClientOptions options, Exception failure)
    {
        var within = $"within {options.ConnectTimeout.TotalSeconds:0.#} s";
        if (options.Membership == MembershipMode.Redis)
        {
            for (var e = failure; e is not null; e = e.InnerException)
            {
                if (e is RedisConnectionException redis)
                {
                    return $"cannot reach Redis at {Shared.RedisConnectionString.Endpoints(ConfigurationOptions.Parse(options.RedisConnectionString!).EndPoints)} " +
                        $"(the membership of cluster '{options.ClusterId}'): {redis.FailureType}";
                }
            }

            return $"no silo of cluster '{options.ClusterId}' answered through Redis membership {within} " +
                $"(is one running, and are the cluster id and the Redis connection string right?): {FirstLine(failure.Message)}";
        }

        var gateways = string.Join(", ", options.GatewayPorts.Select(p => new IPEndPoint(IPAddress.Loopback, p)));
        var listening = new List<int>();
        foreach (var port in options.GatewayPorts)
        {
            if (await AcceptsConnectionsAsync(port).ConfigureAwait(false))
            {
                listening.Add(port);
            }
        }

        return listening.Count == 0
            ? $"no silo of cluster '{options.ClusterId}' answered at {gateways} {within}: nothing listens there (is the silo running, and are the gateway ports right?)"
            : $"no silo of cluster '{options.ClusterId}' answered at {gateways} {within}, though port {string.Join(", ", listening)} accepts connections: " +
                "the cluster id (or service id) may be wrong, or the port is not a Pyralog gateway";
    }

    private static async Task<bool> AcceptsConnectionsAsync(int port)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, port, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    private static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end];
    }

    /// <summary>A Scarab ID generator of its own, with <paramref name="options"/>.</summary>
    public IScarabIdGenerator CreateIdGenerator(ScarabIdGeneratorOptions options) => new ScarabIdGenerator(Cluster, options);

    /// <summary>A producer sharing this client's log metadata cache (dispose it to flush and close it).</summary>
    public LogProducer CreateProducer(ProducerOptions? o = null) => new(_logs, o);

    /// <summary>A consumer sharing this client's log metadata cache.</summary>
    public LogConsumer CreateConsumer(ConsumerOptions? o = null) => new(_logs, o);

    /// <summary>Creates a log (idempotent for the same shape; see <see cref="IPyralogAdminGrain.CreateLogAsync"/>).</summary>
    public Task<LogInfo> CreateLogAsync(string name, int partitions, int replicationFactor, LogSettings? settings = null) =>
        Admin.CreateLogAsync(name, partitions, replicationFactor, settings);

    /// <summary>Deletes a log.</summary>
    /// <exception cref="InvalidOperationException">No log has that name.</exception>
    public Task DeleteLogAsync(string name) => Admin.DeleteLogAsync(name);

    public Task<LogInfo[]> ListLogsAsync() => Admin.ListLogsAsync();

    /// <summary>The log and the live state of each partition.</summary>
    /// <exception cref="InvalidOperationException">No log has that name.</exception>
    public Task<LogDescription> DescribeLogAsync(string name) => Admin.DescribeLogAsync(name);

    /// <summary>
    /// The cluster's silos (from Orleans' management grain) with the partition replicas each hosts and leads (from the
    /// descriptions of every log), and whether they are balanced (see <see cref="ClusterStatus"/>). A log deleted or
    /// failing while it is described is left out and named in <see cref="ClusterStatus.Notes"/>; while the metadata group
    /// has no leader, or when the logs cannot be listed, no log is counted and a note says why.
    /// </summary>
    public Task<ClusterStatus> GetClusterStatusAsync() => ClusterStatusReader.ReadAsync(Cluster);

    /// <summary>
    /// Drains an active silo (by full address, endpoint or name): it hands off the leadership of every replica it hosts
    /// and is given none until <see cref="UndrainSiloAsync"/> or its restart, and its replicas are moved to other silos
    /// (<see cref="GetClusterStatusAsync"/> shows them leave). Completes once its
    /// leaderships moved or the silo's drain timeout passed (<see cref="SiloDrainResult.StillLeading"/> says which).
    /// </summary>
    /// <exception cref="ArgumentException">No active silo, or more than one, goes by that name.</exception>
    public Task<SiloDrainResult> DrainSiloAsync(string silo) => Admin.DrainSiloAsync(silo, drain: true);

    /// <summary>Ends the drain of an active silo: leader balancing may give it leaderships again.</summary>
    /// <exception cref="ArgumentException">No active silo, or more than one, goes by that name.</exception>
    public Task<SiloDrainResult> UndrainSiloAsync(string silo) => Admin.DrainSiloAsync(silo, drain: false);

    private IPyralogAdminGrain Admin => Cluster.GetGrain<IPyralogAdminGrain>(0);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_gateways is not null)
            {
                await _gateways.DisposeAsync().ConfigureAwait(false);
            }

            await _host.StopAsync().ConfigureAwait(false);
        }
        finally
        {
            _host.Dispose();
        }
    }
}
