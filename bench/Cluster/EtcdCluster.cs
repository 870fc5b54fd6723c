using System.Diagnostics;
using System.Globalization;
using dotnet_etcd;
using Etcdserverpb;
using Grpc.Net.Client;
using Pyralog.Testing;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// Three etcd members on 127.0.0.1 (each with its own data directory under the root) and one client per member
/// (dotnet-etcd over its own gRPC channel, so a request goes to the member chosen, not to a balancer's pick). Members
/// run with etcd's defaults otherwise: heartbeat 100 ms, election timeout 1,000 ms, every write fsynced by a majority
/// before it is acknowledged. Members can be SIGKILLed and started again on their data.
/// </summary>
internal sealed class EtcdCluster : IDisposable
{
    public const int Size = 3;
    public const string Binary = "etcd";

    private readonly string _root;
    private readonly string _binary;
    private readonly int[] _clientPorts;
    private readonly int[] _peerPorts;
    private readonly string _token;
    private readonly PeerProcess?[] _members = new PeerProcess?[Size];
    private readonly EtcdClient[] _clients = new EtcdClient[Size];
    private readonly GrpcChannel[] _channels = new GrpcChannel[Size];
    private readonly ulong[] _memberIds = new ulong[Size];

    private EtcdCluster(string root, string binary, int[] clientPorts, int[] peerPorts)
    {
        _root = root;
        _binary = binary;
        _clientPorts = clientPorts;
        _peerPorts = peerPorts;
        _token = string.Create(CultureInfo.InvariantCulture, $"pyralog-bench-{clientPorts[0]}");
        for (var i = 0; i < Size; i++)
        {
            _channels[i] = GrpcChannel.ForAddress($"http://127.0.0.1:{clientPorts[i]}", new GrpcChannelOptions
            {
                HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
                MaxReceiveMessageSize = 64 << 20,
            });
            _clients[i] = new EtcdClient(_channels[i].CreateCallInvoker());
        }
    }

    /// <summary>The flags every member runs with (its own name, ports and data directory aside); for the report.</summary>
    public static string Flags => "--initial-cluster-state new, --heartbeat-interval 100 --election-timeout 1000 (defaults), --quota-backend-bytes 8 GiB, --log-level warn";

    public EtcdClient Client(int member) => _clients[member];

    /// <summary>Process ids of the members that run now.</summary>
    public IEnumerable<int> ProcessIds => PeerProcess.RunningIds(_members);

    public static string MemberName(int member) => string.Create(CultureInfo.InvariantCulture, $"e{member}");

    public static async Task<EtcdCluster> StartAsync(string root, string binary, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(root);
        var clientPorts = new int[Size];
        var peerPorts = new int[Size];
        for (var i = 0; i < Size; i++)
        {
            clientPorts[i] = TestPorts.Next();
            peerPorts[i] = TestPorts.Next();
        }

        var cluster = new EtcdCluster(root, binary, clientPorts, peerPorts);
        try
        {
            for (var i = 0; i < Size; i++)
            {
                cluster.StartMember(i);
            }

            await cluster.WaitHealthyAsync(cancellationToken);
            for (var i = 0; i < Size; i++)
            {
                var status = await cluster._clients[i].StatusAsync(new StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: cancellationToken);
                cluster._memberIds[i] = status.Header.MemberId;
            }

            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>The member (0..2) that leads, by the status API.</summary>
    public async Task<int> LeaderAsync(CancellationToken cancellationToken)
    {
        for (var i = 0; i < Size; i++)
        {
            if (_members[i] is not { IsRunning: true })
            {
                continue;
            }

            try
            {
                var status = await _clients[i].StatusAsync(new StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: cancellationToken);
                if (status.Leader != 0 && Array.IndexOf(_memberIds, status.Leader) is >= 0 and var leader)
                {
                    return leader;
                }
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                ClusterSettings.Log($"etcd: status of {MemberName(i)} failed: {e.GetType().Name}");
            }
        }

        throw new InvalidOperationException("no etcd member names a leader");
    }

    /// <summary>Waits until every member runs, answers its status and names the same leader, and the members' applied indexes are within 1,000 of each other.</summary>
    public async Task WaitHealthyAsync(CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var last = "not asked yet";
        while (watch.Elapsed < TimeSpan.FromSeconds(90))
        {
            try
            {
                var statuses = await Task.WhenAll(_clients.Select(c => c.StatusAsync(new StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: cancellationToken)));
                if (statuses.All(s => s.Leader != 0 && s.Leader == statuses[0].Leader)
                    && statuses.Max(s => s.RaftIndex) - statuses.Min(s => s.RaftIndex) <= 1000)
                {
                    return;
                }

                last = string.Join(", ", statuses.Select(s => $"leader {s.Leader:x} index {s.RaftIndex}"));
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                last = $"{e.GetType().Name}: {e.Message}";
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        throw new TimeoutException($"etcd members not healthy within 90 s ({last})");
    }

    public void Kill(int member) => (_members[member] ?? throw new InvalidOperationException($"{MemberName(member)} does not run")).Kill();

    /// <summary>Starts a killed member again on its data directory.</summary>
    public void Restart(int member)
    {
        _members[member]?.Dispose();
        StartMember(member);
    }

    public string OutputTail(int member) => _members[member]?.OutputTail() ?? "";

    public void Dispose()
    {
        foreach (var client in _clients)
        {
            client?.Dispose();
        }

        foreach (var channel in _channels)
        {
            channel?.Dispose();
        }

        foreach (var member in _members)
        {
            member?.Dispose();
        }
    }

    private void StartMember(int member)
    {
        var initialCluster = string.Join(',', Enumerable.Range(0, Size).Select(i => $"{MemberName(i)}=http://127.0.0.1:{_peerPorts[i]}"));
        string[] args =
        [
            "--name", MemberName(member),
            "--data-dir", Path.Combine(_root, MemberName(member)),
            "--listen-client-urls", $"http://127.0.0.1:{_clientPorts[member]}",
            "--advertise-client-urls", $"http://127.0.0.1:{_clientPorts[member]}",
            "--listen-peer-urls", $"http://127.0.0.1:{_peerPorts[member]}",
            "--initial-advertise-peer-urls", $"http://127.0.0.1:{_peerPorts[member]}",
            "--initial-cluster", initialCluster,
            "--initial-cluster-token", _token,
            "--initial-cluster-state", "new",
            "--quota-backend-bytes", $"{8L << 30}",
            "--logger", "zap",
            "--log-outputs", "stderr",
            "--log-level", "warn",
        ];
        _members[member] = PeerProcess.Start(MemberName(member), _binary, args, _root);
    }
}
