using System.Net;
using System.Net.Sockets;
using Pyralog.Cli;
using Pyralog.Grains.Interfaces.Obelisk;

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
    public async Task Decode_of_text_that_is_no_id_says_so_and_exits_2()
    {
        var (exit, output, error) = await Run("ids", "decode", "12x");
        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.Equal("pyralog: '12x' is not a Scarab ID: expected an unsigned 64-bit decimal number.", error.Trim());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-4")]
    [InlineData("10000001")]
    public async Task A_count_out_of_range_is_refused_before_connecting(string count)
    {
        var (exit, _, error) = await Run("ids", "next", "--count", count, "--gateway-port", "1");
        Assert.NotEqual(0, exit);
        Assert.Contains("--count must be in 1..10000000", error);
    }

    [Theory]
    [InlineData("--connect-timeout", "0", "--connect-timeout must be a number of seconds")]
    [InlineData("--connect-timeout", "-1", "--connect-timeout must be a number of seconds")]
    [InlineData("--connect-timeout", "NaN", "--connect-timeout must be a number of seconds")]
    [InlineData("--gateway-port", "0", "--gateway-port 0 is not a port")]
    [InlineData("--gateway-port", "70000", "--gateway-port 70000 is not a port")]
    public async Task Bad_connection_options_are_named_without_a_stack_trace(string option, string value, string expected)
    {
        var (exit, output, error) = await Run("ids", "next", option, value);
        Assert.NotEqual(0, exit);
        Assert.DoesNotContain("   at ", output);
        Assert.Contains(expected, error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public async Task Redis_membership_without_a_connection_string_is_one_line_and_exit_2()
    {
        var (exit, output, error) = await Run("ids", "next", "--membership", "redis");
        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.Equal("pyralog: Membership is 'redis' but RedisConnectionString is not set. (Parameter 'RedisConnectionString')", error.Trim());
    }

    [Fact]
    public async Task An_unreachable_cluster_is_one_line_and_exit_1()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var (exit, output, error) = await Run("ids", "next", "--gateway-port", $"{port}", "--connect-timeout", "1");
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        var lines = error.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Single(lines);
        Assert.StartsWith($"pyralog: cannot reach Pyralog cluster 'pyralog' at 127.0.0.1:{port}", lines[0]);
    }
}
