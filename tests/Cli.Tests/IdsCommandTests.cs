using System.Net;
using System.Net.Sockets;
using Pyralog.Cli;
using Pyralog.Cli.Logs;
using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Testing;

namespace Pyralog.Cli.Tests;

public sealed class IdsCommandTests
{
    private static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await PyralogCommandLine.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>Exit 2, nothing on stdout (a script's $(...) captures nothing), exactly one line on stderr.</summary>
    private static async Task AssertBadInput(string[] args, string expected)
    {
        var (exit, output, error) = await Run(args);
        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.Equal(expected + "\n", error.ReplaceLineEndings("\n"));
    }


    [Fact]
    public async Task Decode_prints_time_obelisk_and_sequence()
    {
        var id = ScarabId.Create(1_000, 7, 42);
        var (exit, output, error) = await Run("ids", "decode", id.ToString());
        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Equal(
            $"id        {id.Value}\ntime      2025-01-01T00:00:01.000Z\nms        1000\nobelisk   7\nsequence  42\n",
            output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public Task Decode_of_text_that_is_no_id_says_so_and_exits_2() =>
        AssertBadInput(["ids", "decode", "12x"], "pyralog: '12x' is not a Scarab ID: expected an unsigned 64-bit decimal number.");

    [Theory]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("0")]
    [InlineData("-4")]
    [InlineData("10000001")]
    [InlineData("99999999999")]
    public Task A_count_that_is_no_whole_number_in_range_is_refused_before_connecting(string count) =>
        AssertBadInput(["ids", "next", "--count", count, "--gateway-port", "1"], $"pyralog: --count must be a whole number in 1..10000000 (was '{count}').");

    [Theory]
    [InlineData("--connect-timeout", "abc", "pyralog: --connect-timeout must be a number of seconds in (0, 3600] (was 'abc').")]
    [InlineData("--connect-timeout", "0", "pyralog: --connect-timeout must be a number of seconds in (0, 3600] (was '0').")]
    [InlineData("--connect-timeout", "-1", "pyralog: --connect-timeout must be a number of seconds in (0, 3600] (was '-1').")]
    [InlineData("--connect-timeout", "NaN", "pyralog: --connect-timeout must be a number of seconds in (0, 3600] (was 'NaN').")]
    [InlineData("--connect-timeout", "3601", "pyralog: --connect-timeout must be a number of seconds in (0, 3600] (was '3601').")]
    [InlineData("--gateway-port", "0", "pyralog: --gateway-port '0' is not a port in 1..65535.")]
    [InlineData("--gateway-port", "70000", "pyralog: --gateway-port '70000' is not a port in 1..65535.")]
    [InlineData("--gateway-port", "x", "pyralog: --gateway-port 'x' is not a port in 1..65535.")]
    [InlineData("--membership", "foo", "pyralog: --membership must be localhost, development or redis (was 'foo').")]
    [InlineData("--membership", "1", "pyralog: --membership must be localhost, development or redis (was '1').")]
    [InlineData("--redis", "foo=bar", "pyralog: --redis is not a Redis connection string (such as 127.0.0.1:6379 or redis.example:6379,password=…): Keyword 'foo' is not supported.")]
    public Task Bad_connection_options_are_one_line_naming_them(string option, string value, string expected) =>
        AssertBadInput(["ids", "next", option, value], expected);

    [Theory]
    [InlineData(new[] { "ids", "next", "--cuont", "5" }, "pyralog: Unrecognized command or argument '--cuont'.")]
    [InlineData(new[] { "ids", "next", "foo" }, "pyralog: Unrecognized command or argument 'foo'.")]
    [InlineData(new[] { "ids", "decode", "1", "2" }, "pyralog: Unrecognized command or argument '2'.")]
    [InlineData(new[] { "ids", "next", "--count" }, "pyralog: Required argument missing for option: '--count'.")]
    [InlineData(new[] { "ids" }, "pyralog: Required command was not provided.")]
    public Task Unknown_switches_stray_arguments_and_missing_values_are_one_line_without_help(string[] args, string expected) =>
        AssertBadInput(args, expected);

    [Fact]
    public Task Redis_membership_without_a_connection_string_is_one_line_and_exit_2() =>
        AssertBadInput(["ids", "next", "--membership", "redis"], "pyralog: PyralogClientOptions.RedisConnectionString must be set when Membership is 'redis' (was null). (Parameter 'RedisConnectionString')");

    [Fact]
    public async Task An_unreachable_cluster_is_one_line_and_exit_1()
    {
        var port = TestPorts.Next();
        var (exit, output, error) = await Run("ids", "next", "--gateway-port", $"{port}", "--connect-timeout", "1");
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal(
            $"pyralog: no silo of cluster 'pyralog' answered at 127.0.0.1:{port} within 1 s: nothing listens there " +
            "(is the silo running, and are the gateway ports right?)\n",
            error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Ctrl_C_is_one_line_and_exit_130()
    {
        using var interrupt = new CancellationTokenSource();
        await interrupt.CancelAsync();
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await PyralogCommandLine.RunAsync(
            ["ids", "next", "--gateway-port", $"{TestPorts.Next()}", "--connect-timeout", "60"], Stream.Null, output, error, ClientLogSession.ConnectAsync, TimeProvider.System, interrupt.Token);
        Assert.Equal((130, "", "pyralog: interrupted\n"), (exit, output.ToString(), error.ToString().ReplaceLineEndings("\n")));
    }

    [Fact]
    public async Task An_unreachable_redis_is_one_line_naming_it_and_exit_1()
    {
        var (exit, output, error) = await Run("ids", "next", "--membership", "redis", "--redis", "127.0.0.1:1", "--connect-timeout", "1");
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal("pyralog: cannot reach Redis at 127.0.0.1:1 (the membership of cluster 'pyralog'): UnableToConnect\n", error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task An_unreachable_redis_named_by_host_name_is_named_as_written()
    {
        // StackExchange.Redis keeps a host name as a DnsEndPoint, whose own text is "Unspecified/localhost:1".
        var (exit, output, error) = await Run("ids", "next", "--membership", "redis", "--redis", "localhost:1", "--connect-timeout", "1");
        Assert.Equal((1, ""), (exit, output));
        Assert.Equal("pyralog: cannot reach Redis at localhost:1 (the membership of cluster 'pyralog'): UnableToConnect\n", error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task A_port_that_accepts_connections_but_answers_for_no_silo_of_the_cluster_points_at_the_cluster_id()
    {
        // Connections complete in the listener's backlog, as they do at a gateway of another cluster, and nothing answers.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var (exit, output, error) = await Run("ids", "next", "--gateway-port", $"{port}", "--cluster-id", "other", "--connect-timeout", "1");
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal(
            $"pyralog: no silo of cluster 'other' answered at 127.0.0.1:{port} within 1 s, though port {port} accepts connections: " +
            "the cluster id (or service id) may be wrong, or the port is not a Pyralog gateway\n",
            error.ReplaceLineEndings("\n"));
    }
}
