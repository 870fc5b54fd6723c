using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Pyralog.Cli.Cluster;
using Pyralog.Client;
using Pyralog.Client.Cluster;

namespace Pyralog.Cli.Tests;

/// <summary><c>pyralog cluster status</c> against a status source standing in for the cluster, and against no cluster at all.</summary>
public sealed class ClusterCommandTests
{
    private static readonly ClusterStatus Sample = new(
        [new SiloPlacement("127.0.0.1:11111@1", "silo-a", "Active", 6, 3), new SiloPlacement("127.0.0.1:11112@1", "", "Active", 6, 0)],
        Balanced: false, MeanReplicas: 6, MeanLeaders: 1.5, Notes: ["partition orders/1 has no leader"]);

    private static async Task<(int Exit, string Out, string Err)> Run(ClusterStatusSource source, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await PyralogCommandLine.RunAsync(args, Stream.Null, output, error, (_, _) => throw new InvalidOperationException("no log session here"),
            new FakeTimeProvider(), cluster: source);
        return (exit, output.ToString().ReplaceLineEndings("\n"), error.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Status_prints_a_table_of_silos_the_verdict_and_the_notes()
    {
        PyralogClientOptions? seen = null;
        var result = await Run((o, _) =>
        {
            seen = o;
            return Task.FromResult(Sample);
        }, "cluster", "status", "--gateway-port", "30001", "--cluster-id", "prod");

        Assert.Equal((0,
            "silo               name    status  replicas  leaders\n" +
            "127.0.0.1:11111@1  silo-a  Active  6         3\n" +
            "127.0.0.1:11112@1  -       Active  6         0\n" +
            "not balanced (mean 6 replicas and 1.5 leaders per serving silo): 127.0.0.1:11111@1 hosts 6 replicas and leads 3; " +
            "127.0.0.1:11112@1 hosts 6 replicas and leads 0\n" +
            "note: partition orders/1 has no leader\n", ""), result);
        Assert.Equal([30001], seen!.GatewayPorts);
        Assert.Equal("prod", seen.ClusterId);
    }

    [Fact]
    public async Task Status_as_json_is_one_object()
    {
        // The second silo did not say whether it drains: JSON readers see that, as the text's note says it.
        var sample = Sample with { Silos = [Sample.Silos[0], Sample.Silos[1] with { DrainingUnknown = true }] };
        var (exit, output, error) = await Run((_, _) => Task.FromResult(sample), "cluster", "status", "--format", "json");
        Assert.Equal((0, ""), (exit, error));
        Assert.Single(output.TrimEnd('\n').Split('\n'));
        var root = JsonDocument.Parse(output).RootElement;
        Assert.False(root.GetProperty("balanced").GetBoolean());
        Assert.Equal(6, root.GetProperty("meanReplicas").GetDouble());
        var silos = root.GetProperty("silos").EnumerateArray().ToArray();
        Assert.Equal(["127.0.0.1:11111@1", "127.0.0.1:11112@1"], silos.Select(s => s.GetProperty("address").GetString()));
        Assert.Equal([3, 0], silos.Select(s => s.GetProperty("leaders").GetInt32()));
        Assert.Equal([false, false], silos.Select(s => s.GetProperty("draining").GetBoolean()));
        Assert.Equal([false, true], silos.Select(s => s.GetProperty("drainingUnknown").GetBoolean()));
        Assert.Equal(["partition orders/1 has no leader"], root.GetProperty("notes").EnumerateArray().Select(n => n.GetString()));
    }

    [Fact]
    public async Task A_bad_format_is_one_line_and_exit_2() =>
        Assert.Equal(2, (await Run((_, _) => Task.FromResult(Sample), "cluster", "status", "--format", "yaml")).Exit);

    [Fact]
    public async Task A_cluster_lost_while_asking_is_one_line_and_exit_1()
    {
        var result = await Run((_, _) => throw new TimeoutException("Response did not arrive on time"), "cluster", "status");
        Assert.Equal((1, "", "pyralog: lost the cluster: Response did not arrive on time\n"), result);
    }

    [Fact]
    public async Task A_malformed_redis_connection_string_is_bad_input_and_exit_2_as_for_every_command()
    {
        // The client's own connection refuses it with an ArgumentException, which is no refusal of the cluster.
        var result = await Run(ClientClusterStatus.GetAsync, "cluster", "status", "--membership", "redis", "--redis", "foo=bar");
        Assert.Equal((2, "", "pyralog: --redis is not a Redis connection string (such as 127.0.0.1:6379 or redis.example:6379,password=…): Keyword 'foo' is not supported.\n"), result);
    }

    [Fact]
    public async Task A_redis_connection_string_naming_no_server_is_bad_input_and_exit_2()
    {
        // It parses, but would connect nowhere: the silo refuses it as naming no Redis server, and so does the CLI, before anything is sent.
        var result = await Run(ClientClusterStatus.GetAsync, "cluster", "status", "--membership", "redis", "--redis", "password=secret");
        Assert.Equal((2, "", "pyralog: --redis names no Redis server: give host:port first (such as 127.0.0.1:6379 or redis.example:6379,password=…).\n"), result);
    }

    [Fact]
    public async Task An_unreachable_cluster_is_one_line_and_exit_1()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var (exit, output, error) = await Run(ClientClusterStatus.GetAsync, "cluster", "status", "--gateway-port", $"{port}", "--connect-timeout", "1");
        Assert.Equal((1, ""), (exit, output));
        Assert.Equal(
            $"pyralog: no silo of cluster 'pyralog' answered at 127.0.0.1:{port} within 1 s: nothing listens there " +
            "(is the silo running, and are the gateway ports right?)\n",
            error);
    }
}
