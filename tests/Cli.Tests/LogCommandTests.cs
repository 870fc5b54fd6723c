using Pyralog.Grains.Interfaces.Logs;
using static Pyralog.Cli.Tests.CliRun;

namespace Pyralog.Cli.Tests;

public sealed class LogCommandTests
{
    private readonly FakeLogSession _cluster = new();

    [Fact]
    public async Task Create_prints_the_log_a_setting_per_line()
    {
        var result = await Run(_cluster, "log", "create", "orders", "--partitions", "4", "--rf", "3", "--durability", "os-cache", "--max-record-bytes", "4096",
            "--retention-age", "36h", "--retention-bytes", "512MiB");
        Assert.Equal(
            (0,
                "log              orders\n" +
                "id               1\n" +
                "partitions       4\n" +
                "rf               3\n" +
                "durability       os-cache\n" +
                "max record       4096 bytes\n" +
                "retention age    36h\n" +
                "retention bytes  536870912 bytes per partition\n" +
                "state            active\n",
                ""),
            result);
        Assert.Equal(
            new LogSettings { Durability = LogDurability.OsCache, MaxRecordBytes = 4096, RetentionAge = TimeSpan.FromHours(36), RetentionBytes = 512L << 20 },
            (await _cluster.FindLogAsync("orders"))!.Settings);
    }

    [Fact]
    public async Task Create_defaults_to_fsync_and_a_mebibyte_per_record()
    {
        var (exit, output, _) = await Run(_cluster, "log", "create", "events", "-p", "1", "--rf", "1");
        Assert.Equal(0, exit);
        Assert.Contains("durability       fsync\nmax record       1048576 bytes\nretention age    forever\nretention bytes  unlimited\n", output, StringComparison.Ordinal);
        Assert.Equal(new LogSettings(), (await _cluster.FindLogAsync("events"))!.Settings);
    }

    [Theory]
    [InlineData("1s", 1_000L)]
    [InlineData("1500ms", 1_500L)]
    [InlineData("90m", 5_400_000L)]
    [InlineData("7D", 604_800_000L)]
    public async Task Retention_age_takes_a_whole_number_with_a_unit(string text, long milliseconds)
    {
        var (exit, _, error) = await Run(_cluster, "log", "create", "events", "-p", "1", "--rf", "1", "--retention-age", text);
        Assert.Equal((0, ""), (exit, error));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), (await _cluster.FindLogAsync("events"))!.Settings.RetentionAge);
    }

    [Theory]
    [InlineData("1048576", 1L << 20)]
    [InlineData("1024K", 1L << 20)]
    [InlineData("3MiB", 3L << 20)]
    [InlineData("10gib", 10L << 30)]
    [InlineData("2T", 2L << 40)]
    public async Task Retention_bytes_take_bytes_or_a_binary_unit(string text, long bytes)
    {
        var (exit, _, error) = await Run(_cluster, "log", "create", "events", "-p", "1", "--rf", "1", "--retention-bytes", text);
        Assert.Equal((0, ""), (exit, error));
        Assert.Equal(bytes, (await _cluster.FindLogAsync("events"))!.Settings.RetentionBytes);
    }

    [Fact]
    public Task Creating_a_log_that_exists_with_another_shape_is_refused_with_exit_3()
    {
        _cluster.AddLog("orders", 4);
        return AssertFails(_cluster, 3, "pyralog: cannot create log 'orders' with 2 partitions, RF 3: log 'orders' exists with 4 partitions, RF 3",
            "log", "create", "orders", "--partitions", "2", "--rf", "3");
    }

    [Theory]
    [InlineData(new[] { "--partitions", "0", "--rf", "3" }, "pyralog: --partitions must be a whole number in 1..65536 (was '0').")]
    [InlineData(new[] { "--partitions", "65537", "--rf", "3" }, "pyralog: --partitions must be a whole number in 1..65536 (was '65537').")]
    [InlineData(new[] { "--partitions", "two", "--rf", "3" }, "pyralog: --partitions must be a whole number in 1..65536 (was 'two').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "8" }, "pyralog: --rf must be a whole number in 1..7 (was '8').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "0" }, "pyralog: --rf must be a whole number in 1..7 (was '0').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "3", "--durability", "always" }, "pyralog: --durability must be fsync or os-cache (was 'always').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "3", "--durability", "oscache" }, "pyralog: --durability must be fsync or os-cache (was 'oscache').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "3", "--max-record-bytes", "63" }, "pyralog: --max-record-bytes must be a whole number in 64..16777216 (was '63').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "3", "--retention-age", "0s" }, "pyralog: --retention-age must be a duration of at least 1s and at most 36500d, such as 90m, 36h or 7d (was '0s').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "3", "--retention-age", "999ms" }, "pyralog: --retention-age must be a duration of at least 1s and at most 36500d, such as 90m, 36h or 7d (was '999ms').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "3", "--retention-age", "60" }, "pyralog: --retention-age must be a duration of at least 1s and at most 36500d, such as 90m, 36h or 7d (was '60').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "3", "--retention-age", "60s\n" }, "pyralog: --retention-age must be a duration of at least 1s and at most 36500d, such as 90m, 36h or 7d (was '60s\n').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "3", "--retention-age", "1.5h" }, "pyralog: --retention-age must be a duration of at least 1s and at most 36500d, such as 90m, 36h or 7d (was '1.5h').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "3", "--retention-age", "36501d" }, "pyralog: --retention-age must be a duration of at least 1s and at most 36500d, such as 90m, 36h or 7d (was '36501d').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "3", "--retention-bytes", "1048575" }, "pyralog: --retention-bytes must be a size of at least 1MiB, in bytes or with a unit such as 512MiB or 10GiB (was '1048575').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "3", "--retention-bytes", "1.5G" }, "pyralog: --retention-bytes must be a size of at least 1MiB, in bytes or with a unit such as 512MiB or 10GiB (was '1.5G').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "3", "--retention-bytes", "5MB" }, "pyralog: --retention-bytes must be a size of at least 1MiB, in bytes or with a unit such as 512MiB or 10GiB (was '5MB').")]
    [InlineData(new[] { "--partitions", "2", "--rf", "3", "--retention-bytes", "9000000T" }, "pyralog: --retention-bytes must be a size of at least 1MiB, in bytes or with a unit such as 512MiB or 10GiB (was '9000000T').")]
    [InlineData(new[] { "--rf", "3" }, "pyralog: Option '--partitions' is required.")]
    [InlineData(new[] { "--partitions", "2" }, "pyralog: Option '--rf' is required.")]
    public async Task Bad_create_arguments_are_one_line_and_exit_2_before_connecting(string[] options, string expected)
    {
        await AssertFails(_cluster, 2, expected, ["log", "create", "orders", .. options]);
        Assert.Equal(0, _cluster.Connects);
    }

    [Theory]
    [InlineData("create", "a b")]
    [InlineData("describe", "orders/1")]
    [InlineData("delete", "")]
    [InlineData("create", "orders\n")] // a regex's "$" matched before a final newline
    public async Task A_name_that_is_no_log_name_is_refused_before_connecting(string command, string name)
    {
        string[] args = command == "create" ? ["log", command, name, "--partitions", "1", "--rf", "1"] : ["log", command, name];
        await AssertFails(_cluster, 2, $"pyralog: '{name}' is not a log name: expected 1..200 letters, digits, '.', '_' or '-'.", args);
        Assert.Equal(0, _cluster.Connects);
    }

    [Fact]
    public Task A_log_name_of_201_characters_is_refused() =>
        AssertFails(_cluster, 2, $"pyralog: '{new string('a', 201)}' is not a log name: expected 1..200 letters, digits, '.', '_' or '-'.",
            "log", "describe", new string('a', 201));

    [Fact]
    public async Task List_is_a_table_sorted_by_name()
    {
        _cluster.AddLog("orders", 4, 3, id: 12);
        _cluster.AddLog("audit", 1, 1, new LogSettings { Durability = LogDurability.OsCache }, id: 3);
        var result = await Run(_cluster, "log", "list");
        Assert.Equal(
            (0,
                "name    id  partitions  rf  durability  state\n" +
                "audit   3   1           1   os-cache    active\n" +
                "orders  12  4           3   fsync       active\n",
                ""),
            result);
    }

    [Fact]
    public async Task List_of_no_logs_is_the_header()
    {
        Assert.Equal((0, "name  id  partitions  rf  durability  state\n", ""), await Run(_cluster, "log", "list"));
    }

    [Fact]
    public async Task Describe_is_the_settings_then_a_row_per_replica()
    {
        _cluster.AddLog("orders", 2, 3, id: 12);
        _cluster.Append("orders", 1, null, [1]);
        _cluster.Append("orders", 1, null, [2]);
        var result = await Run(_cluster, "log", "describe", "orders");
        Assert.Equal(
            (0,
                "log              orders\n" +
                "id               12\n" +
                "partitions       2\n" +
                "rf               3\n" +
                "durability       fsync\n" +
                "max record       1048576 bytes\n" +
                "retention age    forever\n" +
                "retention bytes  unlimited\n" +
                "state            active\n" +
                "\n" +
                "partition  leader             epoch  first  committed  replica  silo               role      next  lag\n" +
                "0          127.0.0.1:11110@1  1      0      0          0        127.0.0.1:11110@1  leader    0     0\n" +
                "                                                       1        127.0.0.1:11111@1  follower  0     0\n" +
                "                                                       2        127.0.0.1:11112@1  follower  0     0\n" +
                "1          127.0.0.1:11110@1  1      0      2          0        127.0.0.1:11110@1  leader    2     0\n" +
                "                                                       1        127.0.0.1:11111@1  follower  2     0\n" +
                "                                                       2        127.0.0.1:11112@1  follower  2     0\n",
                ""),
            result);
    }

    [Fact]
    public async Task Describe_notes_a_partition_without_leader_a_replica_that_did_not_answer_and_shared_silos()
    {
        var info = _cluster.AddLog("orders", 2, 3, id: 12);
        _cluster.Description = new LogDescription(info,
        [
            new PartitionDescription(0, 1, "127.0.0.1:11111@1", 4, 10, 25,
            [
                new ReplicaDescription(0, info.ReplicaKey(0, 0), "127.0.0.1:11111@1", ReplicaRole.Follower, 20, 5, null),
                new ReplicaDescription(1, info.ReplicaKey(0, 1), "127.0.0.1:11111@1", ReplicaRole.Leader, 25, 0, null),
                new ReplicaDescription(2, info.ReplicaKey(0, 2), "", ReplicaRole.None, 0, 0, "Response did not arrive on time in 00:00:02\nfor message: ..."),
            ], true),
            new PartitionDescription(1, -1, null, 0, 0, 0,
            [
                new ReplicaDescription(0, info.ReplicaKey(1, 0), "127.0.0.1:11111@1", ReplicaRole.Candidate, 7, 0, null),
                new ReplicaDescription(1, info.ReplicaKey(1, 1), "127.0.0.1:11112@1", ReplicaRole.Learner, 3, 0, null),
                new ReplicaDescription(2, info.ReplicaKey(1, 2), "127.0.0.1:11111@1", ReplicaRole.None, 0, 0, null),
            ], true),
        ]);
        var (exit, output, error) = await Run(_cluster, "log", "describe", "orders");
        Assert.Equal((0, ""), (exit, error));
        Assert.EndsWith(
            "\n" +
            "partition  leader             epoch  first  committed  replica  silo               role       next  lag\n" +
            "0          127.0.0.1:11111@1  4      10     25         0        127.0.0.1:11111@1  follower   20    5\n" +
            "                                                       1        127.0.0.1:11111@1  leader     25    0\n" +
            "                                                       2        -                  no answer  -     -\n" +
            "1          -                  0      0      0          0        127.0.0.1:11111@1  candidate  7     0\n" +
            "                                                       1        127.0.0.1:11112@1  learner    3     0\n" +
            "                                                       2        127.0.0.1:11111@1  none       0     0\n" +
            "note: replica 2 of partition 0 did not answer: Response did not arrive on time in 00:00:02\n" +
            "note: partition 1 has no leader that answered (an election may be running)\n" +
            "note: partitions 0, 1 have replicas sharing a silo: fewer silo losses than RF 3 promises lose a majority (fewer silos than replicas, or after failures)\n",
            output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("describe")]
    [InlineData("delete")]
    public Task An_unknown_log_is_one_line_and_exit_3(string command) =>
        AssertFails(_cluster, 3, "pyralog: no log is named 'nope'.", "log", command, "nope");

    [Fact]
    public async Task Delete_says_what_it_deleted()
    {
        _cluster.AddLog("orders", 1);
        Assert.Equal((0, "deleted log orders\n", ""), await Run(_cluster, "log", "delete", "orders"));
        Assert.Null(await _cluster.FindLogAsync("orders"));
    }

    [Theory]
    [InlineData(new[] { "log" }, "pyralog: Required command was not provided.")]
    [InlineData(new[] { "log", "describe" }, "pyralog: Required argument missing for command: 'describe'.")]
    [InlineData(new[] { "log", "list", "x" }, "pyralog: Unrecognized command or argument 'x'.")]
    [InlineData(new[] { "log", "remove", "x" }, "pyralog: Unrecognized command or argument 'remove'.")]
    public Task Missing_and_stray_words_are_one_line_and_exit_2(string[] args, string expected) =>
        AssertFails(_cluster, 2, expected, args);

    [Fact]
    public async Task The_connection_options_reach_the_session_factory_and_redis_without_a_string_is_exit_2()
    {
        await AssertFails(_cluster, 2, "pyralog: --gateway-port '0' is not a port in 1..65535.", "log", "list", "--gateway-port", "0");
        await AssertFails(_cluster, 2, "pyralog: PyralogClientOptions.RedisConnectionString must be set when Membership is 'redis' (was null). (Parameter 'RedisConnectionString')",
            "log", "list", "--membership", "redis");
    }

    [Theory]
    [InlineData("log", "list")]
    [InlineData("produce", "orders")]
    public async Task An_unreachable_cluster_is_one_line_and_exit_1(params string[] command)
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await PyralogCommandLine.RunAsync([.. command, "--gateway-port", $"{port}", "--connect-timeout", "1"], output, error);
        Assert.Equal(
            (1, "", $"pyralog: no silo of cluster 'pyralog' answered at 127.0.0.1:{port} within 1 s: nothing listens there (is the silo running, and are the gateway ports right?)\n"),
            (exit, output.ToString(), error.ToString().ReplaceLineEndings("\n")));
    }
}
