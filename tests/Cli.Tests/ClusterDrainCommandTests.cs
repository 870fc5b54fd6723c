using Microsoft.Extensions.Time.Testing;
using Pyralog.Cli.Cluster;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Tests;

/// <summary><c>pyralog cluster drain SILO [--undo]</c> against a drainer standing in for the cluster.</summary>
public sealed class ClusterDrainCommandTests
{
    private static async Task<(int Exit, string Out, string Err)> Run(SiloDrainer drainer, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await PyralogCommandLine.RunAsync(args, Stream.Null, output, error, (_, _) => throw new InvalidOperationException("no log session here"),
            new FakeTimeProvider(), drainer: drainer);
        return (exit, output.ToString().ReplaceLineEndings("\n"), error.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task A_drain_that_moved_every_leadership_says_so_and_exits_0()
    {
        (string Silo, bool Drain, int Port)? asked = null;
        var result = await Run((o, silo, drain, _) =>
        {
            asked = (silo, drain, o.GatewayPorts[0]);
            return Task.FromResult(new SiloDrainResult("127.0.0.1:11112@7", true, 4, 0, 9));
        }, "cluster", "drain", "127.0.0.1:11112", "--gateway-port", "30001");

        Assert.Equal((0,
            "silo 127.0.0.1:11112@7 is draining: handed off the leadership of 4 replicas; it leads none; its 9 replicas move to other silos now (`pyralog cluster status` shows them leave)\n",
            ""), result);
        Assert.Equal(("127.0.0.1:11112", true, 30001), asked);
    }

    [Fact]
    public async Task A_drain_that_left_leaderships_behind_exits_4()
    {
        var result = await Run((_, _, _, _) => Task.FromResult(new SiloDrainResult("127.0.0.1:11112@7", true, 4, 1)), "cluster", "drain", "silo-1");

        Assert.Equal((4,
            "silo 127.0.0.1:11112@7 is draining: 1 of the 4 replicas that led there still lead (no sibling on another silo took over within the drain timeout); it hosts no replica\n",
            ""), result);
    }

    [Fact]
    public async Task Undo_ends_the_drain()
    {
        bool? drained = null;
        var result = await Run((_, _, drain, _) =>
        {
            drained = drain;
            return Task.FromResult(new SiloDrainResult("127.0.0.1:11112@7", false, 0, 0));
        }, "cluster", "drain", "silo-1", "--undo");

        Assert.Equal((0, "silo 127.0.0.1:11112@7 is no longer draining; it leads 0\n", ""), result);
        Assert.False(drained);
    }

    [Fact]
    public async Task An_unknown_silo_is_the_clusters_refusal_in_one_line_and_exit_3()
    {
        var result = await Run((_, _, _, _) => throw new ArgumentException("no active silo is 'x' (by address, endpoint or name); active: a (s1)", "silo"),
            "cluster", "drain", "x");

        Assert.Equal(3, result.Exit);
        Assert.Equal("", result.Out);
        Assert.StartsWith("pyralog: no active silo is 'x' (by address, endpoint or name); active: a (s1)", result.Err);
    }

    [Fact]
    public async Task Help_says_the_drained_silos_replicas_move_away()
    {
        var (exit, output, error) = await Run((_, _, _, _) => throw new InvalidOperationException("not called"), "cluster", "drain", "--help");

        Assert.Equal((0, ""), (exit, error));
        Assert.Equal(
            "  Hand off the leadership of every replica on a silo and give it no more, then move its partition replicas to other silos (learner-first), " +
            "so it can be stopped, upgraded or removed without an election; --undo or a restart ends the drain",
            output.Split('\n')[1]);
    }

    [Fact]
    public async Task A_missing_silo_is_bad_input()
    {
        var result = await Run((_, _, _, _) => throw new InvalidOperationException("not called"), "cluster", "drain");

        Assert.Equal(2, result.Exit);
        Assert.Equal("", result.Out);
    }

    [Fact]
    public async Task A_drain_whose_replicas_could_not_be_counted_says_their_count_is_unknown_and_exits_0()
    {
        var result = await Run((_, _, _, _) => Task.FromResult(new SiloDrainResult("127.0.0.1:11112@7", true, 4, 0, -1)), "cluster", "drain", "silo-1");

        Assert.Equal((0,
            "silo 127.0.0.1:11112@7 is draining: handed off the leadership of 4 replicas; it leads none; its replicas (how many is unknown: the metadata could not be read) move to other silos now (`pyralog cluster status` shows them leave)\n",
            ""), result);
    }

    [Theory]
    [InlineData(" ")]
    [InlineData("")]
    public async Task A_blank_silo_is_bad_input_before_anything_is_sent(string silo)
    {
        var result = await Run((_, _, _, _) => throw new InvalidOperationException("not called"), "cluster", "drain", silo);

        Assert.Equal((2, "",
            "pyralog: the silo to drain is blank: give its address as `cluster status` prints it, its endpoint (127.0.0.1:11111) or its name.\n"), result);
    }
}
