using Pyralog.Cli.Commands;
using Pyralog.Client.Logs;
using static Pyralog.Cli.Tests.CliRun;

namespace Pyralog.Cli.Tests;

public sealed class ProduceCommandTests
{
    private readonly FakeLogSession _cluster = new();

    public ProduceCommandTests()
    {
        _cluster.AddLog("orders", 4);
    }

    private string[] Values(int partition) => [.. _cluster.Records("orders", partition).Select(r => System.Text.Encoding.UTF8.GetString(r.Value))];

    [Fact]
    public async Task Each_line_is_a_record_and_the_summary_is_one_line_on_stderr()
    {
        var result = await RunWithInput(_cluster, "a\nbb\nccc\n", "produce", "orders", "--partition", "2");
        Assert.Equal((0, "", "produced 3 records to orders in 0.0 s\n"), result);
        Assert.Equal(["a", "bb", "ccc"], Values(2));
    }

    [Theory]
    [InlineData("", new string[0])]
    [InlineData("\n", new[] { "" })]
    [InlineData("a\n\nb", new[] { "a", "", "b" })]
    [InlineData("a\r\nb\r\n", new[] { "a", "b" })]
    [InlineData("a\rb\n", new[] { "a\rb" })]
    [InlineData("x\n\n", new[] { "x", "" })]
    [InlineData("tab\there ünï\n", new[] { "tab\there ünï" })]
    public async Task Lines_split_at_newlines_only_keep_empty_lines_and_drop_a_carriage_return_before_the_newline(string input, string[] records)
    {
        var (exit, _, error) = await RunWithInput(_cluster, input, "produce", "orders", "--partition", "0");
        Assert.Equal(0, exit);
        Assert.Equal(records, Values(0));
        Assert.Equal(records.Length == 1 ? "produced 1 record to orders in 0.0 s\n" : $"produced {records.Length} records to orders in 0.0 s\n", error);
    }

    [Fact]
    public async Task A_line_longer_than_the_read_buffer_is_one_record()
    {
        var line = new string('x', 200_000);
        Assert.Equal(0, (await RunWithInput(_cluster, $"{line}\nshort\n{line}", "produce", "orders", "--partition", "1")).Exit);
        Assert.Equal([line, "short", line], Values(1));
    }

    [Fact]
    public async Task Verbose_prints_partition_epoch_offset_per_record_in_input_order()
    {
        _cluster.Append("orders", 3, null, [0]);
        var result = await RunWithInput(_cluster, "a\nb\nc\n", "produce", "orders", "--key", "\u0003k", "--verbose");
        Assert.Equal((0, "3/1/1\n3/1/2\n3/1/3\n", "produced 3 records to orders in 0.0 s\n"), result);
        Assert.All(_cluster.Produced, p => Assert.Equal((null, "\u0003k"), (p.Partition, System.Text.Encoding.UTF8.GetString(p.Record.Key!))));
    }

    [Theory]
    [InlineData("@alice")]
    [InlineData("@/tmp")]
    public async Task A_value_that_starts_with_an_at_sign_is_the_value_not_a_response_file(string key)
    {
        var result = await RunWithInput(_cluster, "a\n", "produce", "orders", "--partition", "0", "--key", key);
        Assert.Equal((0, "", "produced 1 record to orders in 0.0 s\n"), result);
        Assert.Equal(key, System.Text.Encoding.UTF8.GetString(_cluster.Produced[0].Record.Key!));
    }

    [Fact]
    public async Task Without_key_or_partition_the_producer_chooses()
    {
        Assert.Equal(0, (await RunWithInput(_cluster, "a\n", "produce", "orders")).Exit);
        Assert.Equal((null, null), (_cluster.Produced[0].Partition, _cluster.Produced[0].Record.Key));
    }

    [Fact]
    public async Task A_failed_record_names_the_lines_not_acknowledged_stops_reading_and_exits_1()
    {
        _cluster.FailAppend = value => value == "c" ? new TimeoutException("the delivery timeout (30 s) passed for 1 record of partition 2") : null;
        var result = await RunWithInput(_cluster, "a\nb\nc\nd\ne\n", "produce", "orders", "--partition", "2", "-v");
        Assert.Equal(
            (1, "2/1/0\n2/1/1\n-\n",
                "pyralog: produced 2 of 3 records to orders in 0.0 s (stopped reading the input after line 3); not acknowledged: line 3: " +
                "lost the cluster: the delivery timeout (30 s) passed for 1 record of partition 2\n"),
            result);
        Assert.Equal(["a", "b"], Values(2));
    }

    [Fact]
    public async Task A_record_the_cluster_refuses_exits_3_with_its_reason()
    {
        _cluster.FailAppend = value => value == "b"
            ? new ProduceException("orders", 0, 1, "the partition refused the batch, nothing was appended", new ArgumentException("a record of 2000 bytes is over the log's limit of 1024")) { Refused = true }
            : null;
        var result = await RunWithInput(_cluster, "a\nb\n", "produce", "orders", "--partition", "0");
        Assert.Equal(
            (3, "", "pyralog: produced 1 of 2 records to orders in 0.0 s (stopped reading the input after line 2); not acknowledged: line 2: " +
                "1 record of log 'orders' partition 0 was not acknowledged: the partition refused the batch, nothing was appended " +
                "(last error: a record of 2000 bytes is over the log's limit of 1024)\n"),
            result);
    }

    [Fact]
    public async Task A_record_of_a_log_deleted_meanwhile_exits_3()
    {
        _cluster.FailAppend = value => value == "b"
            ? new ProduceException("orders", 0, 1, "log 'orders' was deleted", new InvalidOperationException("replica orders/0/0 knows no log 7")) { Refused = true }
            : null;
        var result = await RunWithInput(_cluster, "a\nb\n", "produce", "orders", "--partition", "0");
        Assert.Equal(3, result.Exit);
        Assert.EndsWith("not acknowledged: line 2: 1 record of log 'orders' partition 0 was not acknowledged: log 'orders' was deleted (last error: replica orders/0/0 knows no log 7)\n", result.Err);
    }

    [Fact]
    public async Task A_delivery_timeout_is_no_refusal_but_exit_1_with_its_reason_and_last_error()
    {
        // The last error of a batch that timed out may be a replica's "retry later": the cluster did not refuse the record.
        _cluster.FailAppend = value => value == "b"
            ? new ProduceException("orders", 0, 1, "no acknowledgement within the delivery timeout (00:00:30)",
                new InvalidOperationException("replica orders/0/0 refuses the append: too many entries waiting to be persisted (retry later)"))
            : null;
        var result = await RunWithInput(_cluster, "a\nb\n", "produce", "orders", "--partition", "0");
        Assert.Equal(
            (1, "", "pyralog: produced 1 of 2 records to orders in 0.0 s (stopped reading the input after line 2); not acknowledged: line 2: " +
                "lost the cluster: 1 record of log 'orders' partition 0 was not acknowledged: no acknowledgement within the delivery timeout (00:00:30) " +
                "(last error: replica orders/0/0 refuses the append: too many entries waiting to be persisted (retry later))\n"),
            result);
    }

    [Fact]
    public async Task A_line_over_the_logs_record_limit_is_not_sent()
    {
        _cluster.AddLog("small", 1, settings: new() { MaxRecordBytes = 64 });
        var result = await RunWithInput(_cluster, $"ok\n{new string('x', 50)}\nnever\n", "produce", "small", "-v");
        Assert.Equal(
            (3, "0/1/0\n-\n",
                "pyralog: produced 1 of 2 records to small in 0.0 s (stopped reading the input after line 2); not acknowledged: line 2: " +
                "line 2 is a record of 68 bytes encoded, over the 64 bytes log 'small' accepts\n"),
            result);
        Assert.Equal(["ok"], _cluster.Produced.Select(p => System.Text.Encoding.UTF8.GetString(p.Record.Value)));
    }

    [Fact]
    public async Task A_line_longer_than_the_logs_record_limit_is_refused_without_reading_it_whole()
    {
        _cluster.AddLog("small", 1, settings: new() { MaxRecordBytes = 64 });
        var result = await RunWithInput(_cluster, "ok\n" + new string('x', 1 << 20), "produce", "small", "-v");
        Assert.Equal(
            (3, "0/1/0\n-\n",
                "pyralog: produced 1 of 2 records to small in 0.0 s (stopped reading the input after line 2); not acknowledged: line 2: " +
                "line 2 is longer than 64 bytes, so as a record it is over the 64 bytes log 'small' accepts\n"),
            result);
        Assert.Equal(["ok"], _cluster.Produced.Select(p => System.Text.Encoding.UTF8.GetString(p.Record.Value)));
    }

    [Theory]
    [InlineData(new long[] { 3 }, "line 3")]
    [InlineData(new long[] { 3, 5, 6, 7, 8, 9 }, "lines 3, 5-9")]
    [InlineData(new long[] { 1, 2, 4, 6, 8, 10, 12, 14, 16, 17, 18, 20 }, "lines 1-2, 4, 6, 8, 10, 12, 14, 16-18 and 1 more")]
    public void Failed_lines_are_named_as_ranges(long[] lines, string expected) =>
        Assert.Equal(expected, ProduceCommand.Lines(lines));

    [Fact]
    public async Task A_partition_outside_the_log_is_exit_2()
    {
        await AssertFails(_cluster, 2, "pyralog: --partition 4 is out of range: log 'orders' has 4 partitions (0..3).", "produce", "orders", "--partition", "4");
        _cluster.AddLog("one", 1);
        await AssertFails(_cluster, 2, "pyralog: --partition 1 is out of range: log 'one' has 1 partition (0..0).", "produce", "one", "--partition", "1");
        Assert.Empty(_cluster.Produced);
    }

    [Theory]
    [InlineData(new[] { "--partition", "-1" }, "pyralog: --partition must be a whole number in 0..65535 (was '-1').")]
    [InlineData(new[] { "--partition", "x" }, "pyralog: --partition must be a whole number in 0..65535 (was 'x').")]
    [InlineData(new[] { "--key" }, "pyralog: Required argument missing for option: '--key'.")]
    [InlineData(new[] { "--verbose", "yes" }, "pyralog: Unrecognized command or argument 'yes'.")]
    public Task Bad_produce_arguments_are_one_line_and_exit_2(string[] options, string expected) =>
        AssertFails(_cluster, 2, expected, ["produce", "orders", .. options]);

    [Fact]
    public Task An_unknown_log_is_exit_3() =>
        AssertFails(_cluster, 3, "pyralog: no log is named 'nope'.", "produce", "nope");

    [Fact]
    public async Task Gateway_ports_before_the_log_name_take_one_port_each()
    {
        var result = await RunWithInput(_cluster, "a\n", "produce", "--gateway-port", "30001", "--gateway-port", "30002", "orders", "--partition", "0");
        Assert.Equal((0, "", "produced 1 record to orders in 0.0 s\n"), result);
        Assert.Equal([30001, 30002], _cluster.Options!.GatewayPorts);
        Assert.Equal(["a"], Values(0));
    }

    [Fact]
    public async Task Stdin_that_fails_to_read_is_named_with_the_line_after_the_lines_read_were_sent_and_exit_2()
    {
        using var stdin = new FailingStream("a\nb\nhalf"u8.ToArray(), new IOException("Is a directory"));
        var output = new StringWriter();
        var result = await RunWith(_cluster, stdin, output, "produce", "orders", "--partition", "1", "-v");
        Assert.Equal((2, "pyralog: produced 2 records to orders in 0.0 s (reading stdin failed at line 3: Is a directory)\n"), result);
        Assert.Equal("1/1/0\n1/1/1\n", output.ToString().ReplaceLineEndings("\n"));
        Assert.Equal(["a", "b"], Values(1));
    }

    [Fact]
    public async Task Closed_stdout_ends_the_input_as_its_end_does_and_the_lines_read_are_still_sent()
    {
        // Stdin stays open (a terminal): without stdout's reader, nothing would end the command.
        using var stdin = new WaitingStream("a\n"u8.ToArray());
        var result = await RunWith(_cluster, stdin, new ClosedOutput(), "produce", "orders", "--partition", "2", "-v").WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal((0, "produced 1 record to orders in 0.0 s (stopped reading the input after line 1: stdout was closed)\n"), result);
        Assert.Equal(["a"], Values(2));
    }
}
