using System.Text;
using Pyralog.Grains.Interfaces.Logs;
using static Pyralog.Cli.Tests.CliRun;

namespace Pyralog.Cli.Tests;

public sealed class ConsumeCommandTests
{
    private readonly FakeLogSession _cluster = new();

    public ConsumeCommandTests()
    {
        _cluster.AddLog("orders", 2);
        foreach (var value in new[] { "p0-a", "p0-b", "p0-c" })
        {
            _cluster.Append("orders", 0, null, Encoding.UTF8.GetBytes(value));
        }

        _cluster.Append("orders", 1, Encoding.UTF8.GetBytes("k"), Encoding.UTF8.GetBytes("p1-a"));
    }

    [Fact]
    public async Task Text_is_the_value_per_line_and_stops_at_the_end()
    {
        Assert.Equal((0, "p0-a\np0-b\np0-c\n", ""), await Run(_cluster, "consume", "orders", "--partition", "0"));
    }

    [Fact]
    public async Task All_partitions_interleave_each_in_offset_order()
    {
        var (exit, output, error) = await Run(_cluster, "consume", "orders");
        Assert.Equal((0, ""), (exit, error));
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["p0-a", "p0-b", "p0-c", "p1-a"], lines.Order(StringComparer.Ordinal));
        Assert.Equal(["p0-a", "p0-b", "p0-c"], lines.Where(l => l.StartsWith("p0", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Records_appended_after_the_start_are_not_waited_for()
    {
        // The end is the one seen at the start: a log that grows while it is read still ends the command.
        _cluster.AfterBoundsRead = p => _cluster.Append("orders", p, null, "late"u8.ToArray());
        Assert.Equal((0, "p0-a\np0-b\np0-c\n", ""), await Run(_cluster, "consume", "orders", "--partition", "0"));
        Assert.Equal(4, _cluster.Records("orders", 0).Count);
    }

    [Theory]
    [InlineData("earliest", "p0-a\np0-b\np0-c\n")]
    [InlineData("latest", "")]
    [InlineData("1", "p0-b\np0-c\n")]
    [InlineData("3", "")]
    [InlineData("2026-11-30T18:00:01Z", "p0-b\np0-c\n")]
    [InlineData("2026-11-30T18:00:00.5Z", "p0-b\np0-c\n")]
    [InlineData("2026-11-30T19:00:02+01:00", "p0-c\n")]
    [InlineData("2026-11-30T18:00:02", "p0-c\n")]
    [InlineData("2026-11-30", "p0-a\np0-b\np0-c\n")]
    [InlineData("2026-12-01", "")]
    public async Task From_starts_at_earliest_latest_an_offset_or_a_time(string from, string expected)
    {
        Assert.Equal((0, expected, ""), await Run(_cluster, "consume", "orders", "--partition", "0", "--from", from));
    }

    [Fact]
    public async Task Max_stops_after_that_many_records()
    {
        Assert.Equal((0, "p0-a\np0-b\n", ""), await Run(_cluster, "consume", "orders", "--partition", "0", "--max", "2"));
    }

    [Fact]
    public async Task Follow_waits_for_new_records_until_max()
    {
        var consuming = Run(_cluster, "consume", "orders", "--partition", "1", "--from", "latest", "--follow", "--max", "2");
        Assert.False(consuming.IsCompleted);
        _cluster.Append("orders", 1, null, "new-1"u8.ToArray());
        _cluster.Append("orders", 1, null, "new-2"u8.ToArray());
        Assert.Equal((0, "new-1\nnew-2\n", ""), await consuming.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Follow_of_a_quiet_log_ends_quietly_once_nothing_reads_stdout()
    {
        // `consume --follow | head` after head ended, with no record to write that would find the reader gone.
        using var gone = new CancellationTokenSource();
        var output = new StringWriter();
        var error = new StringWriter();
        var consuming = PyralogCommandLine.RunAsync(
            ["consume", "orders", "--from", "latest", "--follow"], Stream.Null, output, error, _cluster.Factory, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(),
            outputGone: gone.Token);
        Assert.False(consuming.IsCompleted);
        await gone.CancelAsync();
        Assert.Equal(0, await consuming.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(("", ""), (output.ToString(), error.ToString()));
    }

    [Fact]
    public async Task Json_is_an_object_per_line_with_utf8_as_strings_and_other_bytes_as_base64()
    {
        _cluster.AddLog("bin", 1);
        _cluster.Append("bin", 0, [0xff, 0x00], "héllo \"wörld\"\n"u8.ToArray(), [new RecordHeader("trace", [1, 2, 0xfe]), new RecordHeader("ct", "text/plain"u8.ToArray())]);
        _cluster.Append("bin", 0, null, [0xc3, 0x28]);
        var (exit, output, error) = await Run(_cluster, "consume", "bin", "--format", "json");
        Assert.Equal((0, ""), (exit, error));
        var first = _cluster.Records("bin", 0)[0].Id;
        Assert.Equal(
            $$"""{"log":"bin","partition":0,"epoch":1,"offset":0,"id":"{{first}}","keyBase64":"/wA=","value":"héllo \"wörld\"\n","headers":[{"name":"trace","valueBase64":"AQL+"},{"name":"ct","value":"text/plain"}],"appendTime":"2026-11-30T18:00:00.000Z"}""" + "\n" +
            $$"""{"log":"bin","partition":0,"epoch":1,"offset":1,"id":"{{first + 1}}","key":null,"valueBase64":"wyg=","appendTime":"2026-11-30T18:00:01.000Z"}""" + "\n",
            output);
    }

    [Fact]
    public async Task Text_prints_values_that_are_no_printable_utf8_as_base64()
    {
        _cluster.AddLog("bin", 1);
        _cluster.Append("bin", 0, null, "two\nlines"u8.ToArray());
        _cluster.Append("bin", 0, null, [0xc3, 0x28]);
        _cluster.Append("bin", 0, null, "tab\tand ünïcode"u8.ToArray());
        _cluster.Append("bin", 0, null, []);
        Assert.Equal((0, "base64:dHdvCmxpbmVz\nbase64:wyg=\ntab\tand ünïcode\n\n", ""), await Run(_cluster, "consume", "bin"));
    }

    [Theory]
    [InlineData(new[] { "--from", "garbage" }, "pyralog: --from must be earliest, latest, an offset or an ISO-8601 time such as 2026-11-30T18:00:00Z (was 'garbage').")]
    [InlineData(new[] { "--from", "-1" }, "pyralog: --from must be earliest, latest, an offset or an ISO-8601 time such as 2026-11-30T18:00:00Z (was '-1').")]
    [InlineData(new[] { "--from", "11/30/2026" }, "pyralog: --from must be earliest, latest, an offset or an ISO-8601 time such as 2026-11-30T18:00:00Z (was '11/30/2026').")]
    [InlineData(new[] { "--from", "2026-13-01" }, "pyralog: --from must be earliest, latest, an offset or an ISO-8601 time such as 2026-11-30T18:00:00Z (was '2026-13-01').")]
    [InlineData(new[] { "--format", "xml" }, "pyralog: --format must be text or json (was 'xml').")]
    [InlineData(new[] { "--max", "0" }, "pyralog: --max must be a whole number in 1..2147483647 (was '0').")]
    [InlineData(new[] { "--partition", "65536" }, "pyralog: --partition must be a whole number in 0..65535 (was '65536').")]
    [InlineData(new[] { "--follow", "1" }, "pyralog: Unrecognized command or argument '1'.")]
    public async Task Bad_consume_arguments_are_one_line_and_exit_2_before_connecting(string[] options, string expected)
    {
        await AssertFails(_cluster, 2, expected, ["consume", "orders", .. options]);
        Assert.Equal(0, _cluster.Connects);
    }

    [Theory]
    [InlineData(new[] { "--partition", "2" }, "pyralog: --partition 2 is out of range: log 'orders' has 2 partitions (0..1).")]
    [InlineData(new[] { "--partition", "0", "--from", "4" }, "pyralog: --from 4 is past the end of partition 0 of log 'orders' (its next offset is 3).")]
    [InlineData(new[] { "--from", "2" }, "pyralog: --from 2 is past the end of partition 1 of log 'orders' (its next offset is 1).")]
    public Task Positions_outside_the_log_are_one_line_and_exit_2(string[] options, string expected) =>
        AssertFails(_cluster, 2, expected, ["consume", "orders", .. options]);

    [Fact]
    public async Task An_offset_before_the_first_retained_one_is_exit_2()
    {
        _cluster.FirstRetained[0] = 2;
        await AssertFails(_cluster, 2, "pyralog: --from 1 is before the first retained offset of partition 0 of log 'orders' (2).",
            "consume", "orders", "--partition", "0", "--from", "1");
    }

    /// <summary>Describe as the admin answers it when partition 0's leader did not answer (nor its followers, unless they reached <paramref name="followersAt"/>).</summary>
    private async Task LeaderUnanswered(ulong? followersAt)
    {
        var description = await _cluster.DescribeLogAsync("orders");
        var p0 = description.Partitions[0];
        var replicas = p0.Replicas.Select(r => r.Replica == 0 || followersAt is null
            ? new ReplicaDescription(r.Replica, r.Key, "", ReplicaRole.None, 0, 0, "Response did not arrive on time in 00:00:05")
            : r with { NextOffset = followersAt.Value });
        var unanswered = new PartitionDescription(0, -1, null, 0, 0, 0, [.. replicas], false);
        _cluster.Description = description with { Partitions = [unanswered, description.Partitions[1]] };
    }

    [Theory]
    [InlineData(null)]
    [InlineData(1UL)]
    public async Task A_partition_whose_leader_did_not_answer_describe_is_read_to_the_end_its_leader_confirms(ulong? followersAt)
    {
        // Without the leader's answer the end could be 0 (the partition skipped) or a follower's that is behind.
        await LeaderUnanswered(followersAt);
        Assert.Equal((0, "p0-a\np0-b\np0-c\n", ""), await Run(_cluster, "consume", "orders", "--partition", "0"));
        Assert.Equal([0], _cluster.BoundsRead);
        Assert.Equal((0, "p0-c\n", ""), await Run(_cluster, "consume", "orders", "--partition", "0", "--from", "2"));
    }

    [Fact]
    public async Task A_partition_without_a_leader_that_answers_is_one_line_and_exit_1_with_nothing_printed()
    {
        await LeaderUnanswered(followersAt: 1);
        _cluster.NoLeader = new TimeoutException("Response did not arrive on time in 00:00:10");
        Assert.Equal(
            (1, "", "pyralog: partition 0 of log 'orders' has no leader that answers, so its committed end is unknown: Response did not arrive on time in 00:00:10\n"),
            await Run(_cluster, "consume", "orders"));
        Assert.Equal([0, 1], _cluster.BoundsRead);
    }

    [Fact]
    public async Task The_end_is_the_one_the_leader_confirms_also_when_describe_answers_a_new_leaders_lagging_applied_end()
    {
        // A leader elected moments ago has applied only what it knows is committed: 1 of the 3 records its predecessor
        // acknowledged, until an entry of its own commits. Its answer to describe must not end the read.
        var description = await _cluster.DescribeLogAsync("orders");
        var p0 = description.Partitions[0];
        var elected = p0 with { Epoch = 2, CommittedNext = 1, Replicas = [.. p0.Replicas.Select(r => r with { NextOffset = 1 })] };
        _cluster.Description = description with { Partitions = [elected, description.Partitions[1]] };
        Assert.Equal((0, "p0-a\np0-b\np0-c\n", ""), await Run(_cluster, "consume", "orders", "--partition", "0"));
        Assert.Equal([0], _cluster.BoundsRead);
    }

    [Fact]
    public Task An_unknown_log_is_exit_3() =>
        AssertFails(_cluster, 3, "pyralog: no log is named 'nope'.", "consume", "nope");

    [Fact]
    public async Task A_read_that_fails_keeps_what_was_printed_and_is_one_line_and_exit_1()
    {
        _cluster.FailConsume = (0, 2);
        Assert.Equal(
            (1, "p0-a\np0-b\n", "pyralog: after 2 records: lost the cluster: Response did not arrive on time in 00:00:30 for partition 0\n"),
            await Run(_cluster, "consume", "orders", "--partition", "0"));
    }

    [Fact]
    public async Task A_partition_that_fails_while_others_follow_ends_the_command()
    {
        _cluster.FailConsume = (1, 1);
        _cluster.Append("orders", 1, null, "p1-b"u8.ToArray());
        var (exit, output, error) = await Run(_cluster, "consume", "orders", "--follow").WaitAsync(TimeSpan.FromSeconds(30));
        var printed = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1, exit);
        Assert.Equal($"pyralog: after {LogText(printed.Length)}: lost the cluster: Response did not arrive on time in 00:00:30 for partition 1\n", error);
        Assert.Contains("p1-a", printed);
        Assert.DoesNotContain("p1-b", printed);
    }

    [Fact]
    public async Task Gateway_ports_before_the_log_name_take_one_port_each()
    {
        Assert.Equal((0, "p1-a\n", ""), await Run(_cluster, "consume", "--gateway-port", "30001", "--gateway-port", "30002", "orders", "--partition", "1"));
        Assert.Equal([30001, 30002], _cluster.Options!.GatewayPorts);
    }

    private static string LogText(int records) => records == 1 ? "1 record" : $"{records} records";
}
