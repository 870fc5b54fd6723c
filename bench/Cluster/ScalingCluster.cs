using Pyralog.Client;
using Pyralog.Grains.Interfaces;
using Pyralog.Silo.Tests;
using Pyralog.Silo.Tests.Partitions;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// Pyralog.Silo processes on 127.0.0.1 for the scaling cases: it starts with <see cref="InitialSilos"/> and can add
/// silos up to <see cref="MaxSilos"/>, each with its own data directory under a root, and one client connected to the
/// first ones' gateways. Membership is Redis when redis-server is installed (as <see cref="PartitionCluster"/> picks
/// it), otherwise development membership with silo 0 as primary. Every silo gets the same arguments and the same fast
/// failure detection as <see cref="PartitionCluster"/>; every process dies with <see cref="DisposeAsync"/>.
/// </summary>
internal sealed class ScalingCluster : IAsyncDisposable
{
    public const int InitialSilos = 3;
    public const int MaxSilos = 4;

    // The same as PartitionCluster's, so the figures compare with the other Pyralog cases.
    private static readonly string[] FastProbes = ["--Silo:ProbeTimeout", "1s", "--Silo:MissedProbesLimit", "3", "--Logging:Console:FormatterName", "simple", "--Logging:Console:FormatterOptions:TimestampFormat", "HH:mm:ss.fff ", "--Logging:Console:FormatterOptions:SingleLine", "true"];

    private readonly string _root;
    private readonly int[] _siloPorts;
    private readonly int[] _gatewayPorts;
    private readonly string[] _args;
    private readonly SiloProcess?[] _silos = new SiloProcess?[MaxSilos];
    private readonly RedisServer? _redis;
    private PyralogClient? _client;

    private ScalingCluster(string root, int[] siloPorts, int[] gatewayPorts, string[] args, RedisServer? redis)
    {
        _root = root;
        _siloPorts = siloPorts;
        _gatewayPorts = gatewayPorts;
        _args = args;
        _redis = redis;
        // A bench that exits without disposing (a signal, an unhandled exception) still takes its silos with it.
        AppDomain.CurrentDomain.ProcessExit += KillAtExit;
    }

    public PyralogClient Client => _client ?? throw new InvalidOperationException("not connected");

    /// <summary>Silos started so far (0..n−1).</summary>
    public int Count => _silos.Count(s => s is not null);

    /// <summary>Process ids of the silos that run now.</summary>
    public IReadOnlyList<int> ProcessIds => [.. _silos.Where(s => s is { Process.HasExited: false }).Select(s => s!.Process.Id)];

    /// <summary>Starts <see cref="InitialSilos"/> silos in turn (the first is development membership's primary) and connects a client.</summary>
    public static async Task<ScalingCluster> StartAsync(string root, Action<string> log, params string[] siloArgs)
    {
        var siloPorts = new int[MaxSilos];
        var gatewayPorts = new int[MaxSilos];
        for (var i = 0; i < MaxSilos; i++)
        {
            siloPorts[i] = SiloProcess.FreePort();
            gatewayPorts[i] = SiloProcess.FreePort();
        }

        var clusterId = $"scaling-{siloPorts[0]}";
        var redis = RedisServer.IsInstalled() ? await RedisServer.StartAsync(SiloProcess.FreePort(), TimeSpan.FromSeconds(30)) : null;
        string[] membership = redis is null
            ? ["--membership", "development", "--primary-port", $"{siloPorts[0]}"]
            : ["--membership", "redis", "--redis", redis.ConnectionString];
        var cluster = new ScalingCluster(root, siloPorts, gatewayPorts, [.. membership, "--cluster-id", clusterId, .. FastProbes, .. siloArgs], redis);
        try
        {
            for (var i = 0; i < InitialSilos; i++)
            {
                await cluster.AddSiloAsync();
            }

            cluster._client = await PyralogClient.ConnectAsync(new PyralogClientOptions
            {
                Membership = redis is null ? MembershipMode.Development : MembershipMode.Redis,
                GatewayPorts = gatewayPorts[..InitialSilos],
                RedisConnectionString = redis?.ConnectionString,
                ClusterId = clusterId,
                ConnectTimeout = TimeSpan.FromSeconds(30),
            });
            log($"{InitialSilos} silos up ({(redis is null ? "development" : "redis")} membership, cluster {clusterId}, silo ports {string.Join(", ", siloPorts[..InitialSilos])})");
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the next silo and waits until it prints that it is up; returns its index.</summary>
    public async Task<int> AddSiloAsync()
    {
        var silo = Count;
        if (silo >= MaxSilos)
        {
            throw new InvalidOperationException($"the cluster has room for {MaxSilos} silos");
        }

        _silos[silo] = await SiloProcess.StartAsync(Path.Combine(_root, $"silo{silo}"), _siloPorts[silo], _gatewayPorts[silo], _args);
        return silo;
    }

    /// <summary>The silo's endpoint as <c>cluster drain</c> takes it and as silo addresses begin (<c>127.0.0.1:port</c>).</summary>
    public string Endpoint(int silo) => $"127.0.0.1:{_siloPorts[silo]}";

    /// <summary>Whether a silo address (<c>127.0.0.1:port@generation</c>, as replicas and cluster status name silos) is this silo's.</summary>
    public bool IsSilo(string? address, int silo) =>
        address is not null && address.StartsWith(Endpoint(silo), StringComparison.Ordinal) &&
        (address.Length == Endpoint(silo).Length || !char.IsAsciiDigit(address[Endpoint(silo).Length]));

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            try
            {
                await _client.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception e)
            {
                ClusterSettings.Log($"client did not stop cleanly: {e.GetType().Name}");
            }
        }

        foreach (var silo in _silos)
        {
            silo?.Dispose();
        }

        _redis?.Dispose();
        AppDomain.CurrentDomain.ProcessExit -= KillAtExit;
    }

    private void KillAtExit(object? sender, EventArgs e)
    {
        foreach (var silo in _silos)
        {
            try
            {
                silo?.Process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        }

        _redis?.Dispose();
    }
}
