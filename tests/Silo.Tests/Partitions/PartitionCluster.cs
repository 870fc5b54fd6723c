using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Pyralog.Client;
using Pyralog.Grains.Interfaces;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Testing;

namespace Pyralog.Silo.Tests.Partitions;

/// <summary>
/// Three Pyralog.Silo processes on 127.0.0.1, each with its own data directory under a root, and one client; silos can
/// be SIGKILLed and restarted on the same ports, with or without their data. Membership is Redis when redis-server is
/// installed and asked for (any silo may then be killed), otherwise development membership, whose table lives in the
/// primary (silo 0): that one must not be killed. Shared by the Slow partition tests and the <c>partition</c> bench.
/// </summary>
internal sealed partial class PartitionCluster : IAsyncDisposable
{
    public const int Size = 3;
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A killed silo is declared dead after about 3 s instead of Orleans' default ~15 s or more: until then, calls whose
    /// grain directory entries live on the dead silo stall, which would stall partitions whose replicas all survived.
    /// </summary>
    private static readonly string[] FastProbes = ["--Silo:ProbeTimeout", "1s", "--Silo:MissedProbesLimit", "3"];
    private static readonly string[] LogFormat = ["--Logging:Console:FormatterName", "simple", "--Logging:Console:FormatterOptions:TimestampFormat", "HH:mm:ss.fff ", "--Logging:Console:FormatterOptions:SingleLine", "true"];

    private readonly string _root;
    // Invariant: one entry per silo ever started (index = silo number); a stopped silo keeps its ports.
    private readonly List<int> _siloPorts;
    private readonly List<int> _gatewayPorts;
    private readonly string[] _args;
    private readonly List<SiloProcess?> _silos = [null, null, null];

    /// <summary>What each silo's earlier processes printed (before their restarts), for <see cref="SaveOutputAsync"/>.</summary>
    private readonly List<System.Text.StringBuilder> _earlierOutput = [new(), new(), new()];
    private readonly RedisServer? _redis;
    private readonly Action<string> _log;
    private PyralogClient? _client;

    private PartitionCluster(string root, int[] siloPorts, int[] gatewayPorts, string[] args, RedisServer? redis, Action<string> log)
    {
        _root = root;
        _siloPorts = [.. siloPorts];
        _gatewayPorts = [.. gatewayPorts];
        _args = args;
        _redis = redis;
        _log = log;
    }

    public MembershipMode Membership => _redis is null ? MembershipMode.Development : MembershipMode.Redis;

    public PyralogClient Client => _client ?? throw new InvalidOperationException("not connected");

    public IGrainFactory Grains => Client.Cluster;

    public IPyralogAdminGrain Admin => Grains.GetGrain<IPyralogAdminGrain>(0);

    /// <summary>Process ids of the silos that run now.</summary>
    public IReadOnlyList<int> ProcessIds => [.. _silos.Where(s => s is { Process.HasExited: false }).Select(s => s!.Process.Id)];

    /// <summary><c>PYRALOG_DIRECT_ROUTING=0</c>: the client's calls enter through the gateways Orleans picks (to compare with <see cref="PyralogClientOptions.DirectRouting"/>).</summary>
    public const string DirectRoutingVariable = "PYRALOG_DIRECT_ROUTING";

    /// <summary>
    /// Starts the three silos (in turn: the first is development membership's primary) with fast liveness probes (a
    /// killed silo is declared dead within seconds) and connects a client; <paramref name="siloArgs"/> go to every
    /// silo's command line.
    /// </summary>
    public static Task<PartitionCluster> StartAsync(string root, bool preferRedis, Action<string> log, params string[] siloArgs) =>
        StartAsync(root, preferRedis, fastProbes: true, log, siloArgs);

    /// <summary>As above; without <paramref name="fastProbes"/> the silos probe each other at Orleans' pace, as shipped.</summary>
    public static async Task<PartitionCluster> StartAsync(string root, bool preferRedis, bool fastProbes, Action<string> log, params string[] siloArgs)
    {
        var siloPorts = new int[Size];
        var gatewayPorts = new int[Size];
        for (var i = 0; i < Size; i++)
        {
            siloPorts[i] = TestPorts.Next();
            gatewayPorts[i] = TestPorts.Next();
        }

        var clusterId = $"partition-{siloPorts[0]}";
        RedisServer? redis = null;
        if (preferRedis && RedisServer.IsInstalled())
        {
            redis = await RedisServer.StartAsync(TestPorts.Next(), TimeSpan.FromSeconds(30));
        }

        string[] membership = redis is null
            ? ["--membership", "development", "--primary-port", $"{siloPorts[0]}"]
            : ["--membership", "redis", "--redis", redis.ConnectionString];
        string[] probes = fastProbes ? FastProbes : [];
        string[] args = [.. membership, "--cluster-id", clusterId, .. probes, .. LogFormat, .. siloArgs];
        var cluster = new PartitionCluster(root, siloPorts, gatewayPorts, args, redis, log);
        try
        {
            for (var i = 0; i < Size; i++)
            {
                await cluster.StartSiloAsync(i);
            }

            cluster._client = await PyralogClient.ConnectAsync(new PyralogClientOptions
            {
                Membership = cluster.Membership,
                GatewayPorts = gatewayPorts,
                RedisConnectionString = redis?.ConnectionString,
                ClusterId = clusterId,
                ConnectTimeout = TimeSpan.FromSeconds(30),
                DirectRouting = Environment.GetEnvironmentVariable(DirectRoutingVariable) != "0",
            });
            log($"3 silos up ({cluster.Membership.ToString().ToLowerInvariant()} membership, cluster {clusterId}, silo ports {string.Join(", ", siloPorts)}, {(fastProbes ? string.Join(' ', FastProbes) : "Orleans' probe pace")})");
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public string DataDirectory(int silo) => Path.Combine(_root, $"silo{silo}");

    /// <summary>The HTTP port (metrics, health) of a running silo.</summary>
    public int HttpPort(int silo) => (_silos[silo] ?? throw new InvalidOperationException($"silo {silo} does not run")).HttpPort;

    public bool IsRunning(int silo) => _silos[silo] is { Process.HasExited: false };

    /// <summary>Development membership keeps its table in the primary: killing it would take the cluster down with it.</summary>
    public bool CanKill(int silo) => Membership == MembershipMode.Redis || silo != 0;

    /// <summary>The silo (0..2) a silo address names (<c>S127.0.0.1:port:generation</c> or similar), found by its port.</summary>
    public int? SiloOf(string? siloAddress)
    {
        if (siloAddress is null || EndpointPattern().Match(siloAddress) is not { Success: true } match)
        {
            return null;
        }

        var port = int.Parse(match.Groups["port"].Value, CultureInfo.InvariantCulture);
        var index = _siloPorts.IndexOf(port);
        return index >= 0 ? index : _gatewayPorts.IndexOf(port) is >= 0 and var gateway ? gateway : null;
    }

    /// <summary>How many silos were ever started (stopped ones included): silo numbers are 0..Count−1.</summary>
    public int Count => _silos.Count;

    /// <summary>Starts one more silo on new ports (a silo joining the cluster); returns its number.</summary>
    public async Task<int> AddSiloAsync()
    {
        _siloPorts.Add(TestPorts.Next());
        _gatewayPorts.Add(TestPorts.Next());
        _silos.Add(null);
        _earlierOutput.Add(new());
        await StartSiloAsync(_silos.Count - 1);
        return _silos.Count - 1;
    }

    /// <summary>SIGTERM (a graceful stop), then waits until the process exits; returns its exit code.</summary>
    public Task<int> StopAsync(int silo) => (_silos[silo] ?? throw new InvalidOperationException($"silo {silo} does not run")).StopAsync();

    /// <summary>The silo's endpoint as the cluster names it (<c>127.0.0.1:port</c>), e.g. for <c>cluster drain</c>.</summary>
    public string Endpoint(int silo) => $"127.0.0.1:{_siloPorts[silo]}";

    /// <summary>SIGKILL, then waits (bounded) until the process is gone.</summary>
    public void Kill(int silo)
    {
        var process = _silos[silo] ?? throw new InvalidOperationException($"silo {silo} does not run");
        process.Process.Kill(); // SIGKILL
        if (!process.Process.WaitForExit(30_000))
        {
            throw new InvalidOperationException($"silo {silo} (pid {process.Process.Id}) outlived SIGKILL for 30 s");
        }
    }

    /// <summary>SIGSTOP: the process stays, its sockets stay open, nothing answers (a long GC pause, a hung VM).</summary>
    public void Freeze(int silo) => (_silos[silo] ?? throw new InvalidOperationException($"silo {silo} does not run")).Freeze();

    /// <summary>SIGCONT after <see cref="Freeze"/>.</summary>
    public void Thaw(int silo) => (_silos[silo] ?? throw new InvalidOperationException($"silo {silo} does not run")).Thaw();

    /// <summary>Starts a killed silo again on its ports, on its data directory or (<paramref name="wipeData"/>) on an empty one.</summary>
    public async Task RestartAsync(int silo, bool wipeData)
    {
        if (IsRunning(silo))
        {
            throw new InvalidOperationException($"silo {silo} still runs");
        }

        _earlierOutput[silo].Append(_silos[silo]?.Output);
        _silos[silo]?.Dispose();
        _silos[silo] = null;
        if (wipeData && Directory.Exists(DataDirectory(silo)))
        {
            Directory.Delete(DataDirectory(silo), recursive: true);
        }

        await StartSiloAsync(silo);
    }

    /// <summary>
    /// Creates a log, asking again after a call timeout or a metadata group without a leader when the admin's own leader
    /// search gave up (a retry finishes an interrupted creation), within <paramref name="timeout"/>. The silos' output at
    /// the first leaderless answer is saved (and named in the test's log): a metadata group leaderless for the admin's
    /// whole search (20 s) is worth reading about even when a retry succeeds.
    /// </summary>
    public async Task<LogInfo> CreateLogAsync(string name, int partitions, int replicationFactor, LogSettings? settings, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        var saved = false;
        while (true)
        {
            try
            {
                return await Admin.CreateLogAsync(name, partitions, replicationFactor, settings).WaitAsync(TimeSpan.FromTicks(Math.Max(1, (timeout - watch.Elapsed).Ticks)));
            }
            catch (TimeoutException) when (watch.Elapsed < timeout)
            {
                _log($"creating log '{name}' ({partitions} partitions) timed out after {watch.Elapsed.TotalSeconds:0} s; asking again");
            }
            catch (NotLeaderException e) when (watch.Elapsed < timeout)
            {
                var output = saved ? "" : $"; the silos' output is in {await SaveOutputAsync("leaderless-metadata", stacks: false)}";
                saved = true;
                _log($"creating log '{name}' found no metadata leader after {watch.Elapsed.TotalSeconds:0} s ({e.Message}){output}; asking again");
            }
        }
    }

    /// <summary>Why the last <see cref="TryDescribeAsync"/> returned null.</summary>
    public string LastDescribeFailure { get; private set; } = "none";

    /// <summary>The log's description, or null when the admin grain did not answer within a few seconds.</summary>
    public async Task<LogDescription?> TryDescribeAsync(string name)
    {
        try
        {
            return await Admin.DescribeLogAsync(name).WaitAsync(CallTimeout);
        }
        catch (Exception e) when (e is not InvalidOperationException)
        {
            LastDescribeFailure = $"{e.GetType().Name}: {e.Message}";
            return null;
        }
    }

    /// <summary>The metadata replicas' Raft state, each asked directly (not through the admin grain), for failure reports.</summary>
    public async Task<string> DescribeMetadataReplicasAsync()
    {
        var raft = await Task.WhenAll(Enumerable.Range(0, Size).Select(async r =>
        {
            var key = $"0/0/{r}";
            try
            {
                var s = await Grains.GetGrain<IRaftReplicaGrain>(key, "Pyralog.Grains.Metadata.MetadataReplicaGrain").GetStatusAsync().WaitAsync(CallTimeout);
                return $"{key} on silo {SiloOf(s.Silo)?.ToString(CultureInfo.InvariantCulture) ?? s.Silo} {s.Role} t{s.Term} leader {s.LeaderReplica} incarnation {s.Incarnation} commit {s.CommitIndex}/{s.LastIndex}" +
                    $"{(s.Quiesced ? " quiesced" : "")} voters [{string.Join(' ', s.VoterIncarnations)}] learners [{string.Join(' ', s.LearnerIncarnations)}]";
            }
            catch (Exception e)
            {
                return $"{key} did not answer: {e.Message}";
            }
        }));
        return string.Join("; ", raft);
    }

    /// <summary>
    /// Waits until every partition of the log has a leader and (with <paramref name="allReplicas"/>) every replica
    /// answers as leader or follower on a silo of its own; returns the description that showed it.
    /// </summary>
    /// <exception cref="TimeoutException">Not so within <paramref name="timeout"/>; names what was still missing.</exception>
    public async Task<LogDescription> WaitForLeadersAsync(string name, bool allReplicas, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        var missing = "no description yet";
        while (watch.Elapsed < timeout)
        {
            if (await TryDescribeAsync(name) is { } description)
            {
                var unhealthy = description.Partitions
                    .Where(p => p.LeaderReplica < 0 || (allReplicas && (p.SharedSilos || p.Replicas.Any(r => r.Error is not null || r.Role is not (ReplicaRole.Leader or ReplicaRole.Follower)))))
                    .ToList();
                if (unhealthy.Count == 0)
                {
                    return description;
                }

                missing = string.Join("; ", unhealthy.Take(3).Select(p =>
                    $"partition {p.Partition}: leader {p.LeaderReplica}{(p.SharedSilos ? " (replicas share a silo)" : "")}, replicas {string.Join(", ", p.Replicas.Select(r => $"{r.Replica}={r.Role} on silo {SiloOf(r.Silo)?.ToString(CultureInfo.InvariantCulture) ?? r.Silo}{(r.Error is null ? "" : $" ({r.Error})")}"))}"));
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }

        if (missing == "no description yet")
        {
            missing += $" (last failure: {LastDescribeFailure}; metadata replicas: {await DescribeMetadataReplicasAsync()})";
        }

        throw new TimeoutException($"log '{name}' not ready within {timeout.TotalSeconds:0} s: {missing}");
    }

    /// <summary>
    /// Waits until the metadata group is whole again: a leader, and every one of its replicas a voter (not a learner
    /// still catching up) on a silo of its own. A fault test must wait for this before the next fault, as for its log's
    /// partitions: a group caught with two voters by a second fault that also loses a disk has lost a majority of its
    /// configuration for good, which is more than a group of three can survive.
    /// </summary>
    public Task WaitForMetadataGroupAsync(TimeSpan timeout) =>
        MetadataGroupWait.WholeAsync(Admin, ownSilos: true, timeout, silo => SiloOf(silo)?.ToString(CultureInfo.InvariantCulture) ?? silo);

    /// <summary>Every partition of the log as the admin grain sees it (leader, offsets, each replica's role, silo and lag), for failure messages.</summary>
    public async Task<string> DescribeForDiagnosticsAsync(string name)
    {
        if (await TryDescribeAsync(name) is not { } description)
        {
            return $"log '{name}': the admin grain did not answer within {CallTimeout.TotalSeconds:0} s";
        }

        return string.Join('\n', description.Partitions.Select(p =>
            $"partition {p.Partition}: leader {p.LeaderReplica} epoch {p.Epoch} committed {p.CommittedNext}; " +
            string.Join(", ", p.Replicas.Select(r =>
                $"{r.Replica}={r.Role} on silo {SiloOf(r.Silo)?.ToString(CultureInfo.InvariantCulture) ?? r.Silo} next {r.NextOffset} lag {r.Lag}{(r.Error is null ? "" : $" ({r.Error})")}"))));
    }

    /// <summary>
    /// Writes everything every silo printed, across restarts, to <c>silo{N}.log</c> files in a fresh directory under the
    /// temp directory named after <paramref name="test"/>, and (for a failure: <paramref name="stacks"/>) the threads'
    /// stacks of every running silo and of this process to <c>silo{N}.stacks</c> and <c>client.stacks</c>
    /// (<see cref="ThreadStacks"/>); returns the directory (for a report).
    /// </summary>
    public async Task<string> SaveOutputAsync(string test, bool stacks = true)
    {
        var directory = Directory.CreateTempSubdirectory($"pyralog-{test}-logs-").FullName;
        var taking = new List<Task>();
        for (var silo = 0; silo < _silos.Count; silo++)
        {
            File.WriteAllText(Path.Combine(directory, $"silo{silo}.log"), _earlierOutput[silo] + (_silos[silo]?.Output ?? ""));
            if (stacks && _silos[silo] is { Process.HasExited: false } running)
            {
                taking.Add(ThreadStacks.WriteAsync(running.Process.Id, Path.Combine(directory, $"silo{silo}.stacks")));
            }
        }

        if (stacks)
        {
            // The client (this process) too: a call left unanswered may be stuck on either side.
            taking.Add(ThreadStacks.WriteAsync(Environment.ProcessId, Path.Combine(directory, "client.stacks")));
        }

        await Task.WhenAll(taking);
        return directory;
    }

    /// <summary>The last lines a silo printed, for failure messages.</summary>
    public string OutputTail(int silo, int lines = 40)
    {
        var output = _silos[silo]?.Output ?? "";
        return string.Join('\n', output.Split('\n').TakeLast(lines));
    }

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
                _log($"client did not stop cleanly: {e.GetType().Name}");
            }
        }

        foreach (var silo in _silos)
        {
            silo?.Dispose();
        }

        _redis?.Dispose();
    }

    /// <summary>Starts a silo; when it does not come up, the other silos' output is saved beside its own (why a live
    /// silo left a joining one's connectivity check unanswered is in their logs, not in the joining silo's).</summary>
    private async Task StartSiloAsync(int silo)
    {
        try
        {
            _silos[silo] = await SiloProcess.StartAsync(DataDirectory(silo), _siloPorts[silo], _gatewayPorts[silo], _args);
        }
        catch (InvalidOperationException e)
        {
            _earlierOutput[silo].Append(e.Message);
            throw new InvalidOperationException($"silo {silo} did not come up; every silo's output is in {await SaveOutputAsync("start")}", e);
        }
    }

    [GeneratedRegex(@"(?<host>\d{1,3}(?:\.\d{1,3}){3}):(?<port>\d{1,5})")]
    private static partial Regex EndpointPattern();
}
