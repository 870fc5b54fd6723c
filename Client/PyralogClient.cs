using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Pyralog.Client.Obelisk;
using Pyralog.Grains.Interfaces;
using StackExchange.Redis;

namespace Pyralog.Client;

/// <summary>A connection to a Pyralog cluster.</summary>
public sealed class PyralogClient : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly Lazy<ScarabIdGenerator> _ids;

    private PyralogClient(IHost host)
    {
        _host = host;
        Cluster = host.Services.GetRequiredService<IClusterClient>();
        _ids = new Lazy<ScarabIdGenerator>(() => new ScarabIdGenerator(Cluster, new ScarabIdGeneratorOptions()));
    }

    /// <summary>The Orleans client underneath, for calling grains directly.</summary>
    public IClusterClient Cluster { get; }

    /// <summary>A Scarab ID generator with default options, shared by this client's callers.</summary>
    public IScarabIdGenerator Ids => _ids.Value;

    /// <summary>Connects, retrying until <see cref="PyralogClientOptions.ConnectTimeout"/>.</summary>
    /// <exception cref="PyralogConnectionException">No gateway answered in time.</exception>
    public static async Task<PyralogClient> ConnectAsync(PyralogClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PyralogClientOptions();
        options.Validate();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], DisableDefaults = true });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Orleans", LogLevel.None);
        builder.UseOrleansClient(client =>
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

        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            host.Dispose();
            var where = options.Membership == MembershipMode.Redis
                ? "through Redis membership"
                : "at " + string.Join(", ", options.GatewayPorts.Select(p => new IPEndPoint(IPAddress.Loopback, p)));
            throw new PyralogConnectionException(
                $"cannot reach Pyralog cluster '{options.ClusterId}' {where} within {options.ConnectTimeout.TotalSeconds:0.#} s: {e.Message}", e);
        }

        return new PyralogClient(host);
    }

    /// <summary>A Scarab ID generator of its own, with <paramref name="options"/>.</summary>
    public IScarabIdGenerator CreateIdGenerator(ScarabIdGeneratorOptions options) => new ScarabIdGenerator(Cluster, options);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync().ConfigureAwait(false);
        }
        finally
        {
            _host.Dispose();
        }
    }
}
