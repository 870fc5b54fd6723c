using System.Diagnostics;
using System.Globalization;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Pyralog.Testing;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// Three nats-server processes (JetStream on, a cluster of routes on 127.0.0.1, each with its own store directory
/// under the root) and one client connection to each server. Servers can be SIGKILLed and started again on their
/// store. The servers run with their defaults otherwise: JetStream 2.9 acknowledges a publish once a majority of the
/// stream's replicas hold it in memory / page cache, and syncs its files every 2 minutes.
/// </summary>
internal sealed class NatsCluster : IAsyncDisposable
{
    public const int Size = 3;
    public const string Binary = "nats-server";

    private readonly string _root;
    private readonly string _binary;
    private readonly int[] _clientPorts;
    private readonly PeerProcess?[] _servers = new PeerProcess?[Size];
    private readonly NatsConnection?[] _connections = new NatsConnection?[Size];

    private NatsCluster(string root, string binary, int[] clientPorts)
    {
        _root = root;
        _binary = binary;
        _clientPorts = clientPorts;
    }

    /// <summary>Process ids of the servers that run now.</summary>
    public IEnumerable<int> ProcessIds => PeerProcess.RunningIds(_servers);

    /// <summary>The JetStream context over the connection to server <paramref name="server"/>.</summary>
    public NatsJSContext JetStream(int server) => new(_connections[server] ?? throw new InvalidOperationException($"no connection to n{server}"));

    public static string ServerName(int server) => string.Create(CultureInfo.InvariantCulture, $"n{server}");

    public static async Task<NatsCluster> StartAsync(string root, string binary, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(root);
        var clientPorts = new int[Size];
        var routePorts = new int[Size];
        for (var i = 0; i < Size; i++)
        {
            clientPorts[i] = TestPorts.Next();
            routePorts[i] = TestPorts.Next();
        }

        var cluster = new NatsCluster(root, binary, clientPorts);
        try
        {
            for (var i = 0; i < Size; i++)
            {
                var routes = string.Join(", ", Enumerable.Range(0, Size).Where(j => j != i).Select(j => $"\"nats-route://127.0.0.1:{routePorts[j]}\""));
                var store = Path.Combine(root, ServerName(i));
                Directory.CreateDirectory(store);
                await File.WriteAllTextAsync(Path.Combine(root, $"{ServerName(i)}.conf"), $$"""
                    server_name: "{{ServerName(i)}}"
                    listen: "127.0.0.1:{{clientPorts[i]}}"
                    jetstream {
                      store_dir: "{{store}}"
                    }
                    cluster {
                      name: "pyralog-bench"
                      listen: "127.0.0.1:{{routePorts[i]}}"
                      routes: [{{routes}}]
                    }
                    """, cancellationToken);
                cluster.StartServer(i);
            }

            for (var i = 0; i < Size; i++)
            {
                var connection = new NatsConnection(new NatsOpts
                {
                    Url = $"nats://127.0.0.1:{clientPorts[i]}",
                    Name = $"pyralog-bench-{ServerName(i)}",
                    RetryOnInitialConnect = true,
                    ReconnectWaitMin = TimeSpan.FromMilliseconds(50),
                    ReconnectWaitMax = TimeSpan.FromMilliseconds(250),
                    ReconnectJitter = TimeSpan.FromMilliseconds(10),
                    MaxReconnectRetry = -1,
                });
                cluster._connections[i] = connection;
                await connection.ConnectAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
            }

            // JetStream answers once the cluster's meta group elected a leader.
            await WaitAsync(async () =>
            {
                await cluster.JetStream(0).GetAccountInfoAsync(cancellationToken);
                return true;
            }, TimeSpan.FromSeconds(60), "the JetStream meta leader", cancellationToken);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates an R3 file stream on subject <paramref name="subject"/> and waits until it has a leader and all replicas are current.</summary>
    public async Task CreateStreamAsync(string stream, string subject, CancellationToken cancellationToken)
    {
        await JetStream(0).CreateStreamAsync(new StreamConfig(stream, [subject])
        {
            Storage = StreamConfigStorage.File,
            NumReplicas = 3,
        }, cancellationToken);
        await WaitHealthyAsync(stream, cancellationToken);
    }

    /// <summary>The server (0..2) leading the stream, by the stream info's cluster leader.</summary>
    public async Task<int> LeaderAsync(string stream, CancellationToken cancellationToken)
    {
        var info = await StreamInfoAsync(stream, cancellationToken);
        var leader = info.Cluster?.Leader ?? throw new InvalidOperationException($"stream {stream} has no leader");
        return Array.FindIndex(Enumerable.Range(0, Size).ToArray(), i => ServerName(i) == leader) is >= 0 and var index
            ? index
            : throw new InvalidOperationException($"stream leader '{leader}' is no server of this cluster");
    }

    /// <summary>Messages the stream holds.</summary>
    public async Task<long> MessagesAsync(string stream, CancellationToken cancellationToken) =>
        (await StreamInfoAsync(stream, cancellationToken)).State.Messages;

    /// <summary>Waits until every server runs, the stream has a leader and both other replicas are current and online.</summary>
    public Task WaitHealthyAsync(string stream, CancellationToken cancellationToken) =>
        WaitAsync(async () =>
        {
            var info = await StreamInfoAsync(stream, cancellationToken);
            return info.Cluster is { Leader.Length: > 0 } cluster
                && cluster.Replicas is { Count: Size - 1 } replicas
                && replicas.All(r => r.Current && !r.Offline);
        }, TimeSpan.FromSeconds(90), $"stream {stream} with a leader and current replicas", cancellationToken);

    public void Kill(int server) => (_servers[server] ?? throw new InvalidOperationException($"{ServerName(server)} does not run")).Kill();

    /// <summary>Starts a killed server again on its store.</summary>
    public void Restart(int server)
    {
        _servers[server]?.Dispose();
        StartServer(server);
    }

    public string OutputTail(int server) => _servers[server]?.OutputTail() ?? "";

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            if (connection is not null)
            {
                try
                {
                    await connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                }
                catch (Exception e)
                {
                    ClusterSettings.Log($"a NATS connection did not close cleanly: {e.GetType().Name}");
                }
            }
        }

        foreach (var server in _servers)
        {
            server?.Dispose();
        }
    }

    private async Task<StreamInfo> StreamInfoAsync(string stream, CancellationToken cancellationToken)
    {
        // Any live server answers the stream info (the request is routed to the stream leader).
        Exception? last = null;
        for (var i = 0; i < Size; i++)
        {
            if (_servers[i] is not { IsRunning: true })
            {
                continue;
            }

            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                return (await JetStream(i).GetStreamAsync(stream, cancellationToken: timeout.Token)).Info;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                last = e;
            }
        }

        throw new InvalidOperationException($"no server answered the info of stream {stream}: {last?.Message}", last);
    }

    private void StartServer(int server) =>
        _servers[server] = PeerProcess.Start(ServerName(server), _binary, ["-c", Path.Combine(_root, $"{ServerName(server)}.conf")], _root);

    private static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        string last = "not asked yet";
        while (watch.Elapsed < timeout)
        {
            try
            {
                if (await condition())
                {
                    return;
                }

                last = "not yet";
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                last = $"{e.GetType().Name}: {e.Message}";
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        throw new TimeoutException($"waited {timeout.TotalSeconds:0} s for {what} in vain ({last})");
    }
}
