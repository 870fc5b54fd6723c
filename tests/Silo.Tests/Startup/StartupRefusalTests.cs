using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Pyralog.Silo.Startup;
using Pyralog.Testing;

namespace Pyralog.Silo.Tests.Startup;

/// <summary>
/// The silo process refuses bad input before Orleans starts: exit 2 (or 1 for an unreachable Redis), exactly one line on
/// stderr naming the problem, nothing on stdout. A store that does not open, once Orleans started, is one line and exit 3.
/// </summary>
public sealed class StartupRefusalTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("pyralog-refusal-").FullName;

    public void Dispose() => Directory.Delete(_data, recursive: true);

    /// <summary>This test process as the silo names the holder of a port or lock (read from /proc: the suite runs on Linux).</summary>
    private static string ThisProcess() => $"pid {Environment.ProcessId} ({File.ReadAllText("/proc/self/comm").TrimEnd('\n')})";

    private static async Task AssertRefused(int exitCode, string expected, params string[] args)
    {
        var (exit, output, error) = await SiloProcess.RunToExitAsync(args);
        Assert.Equal("", output);
        Assert.Equal("pyralog silo: " + expected + "\n", error.ReplaceLineEndings("\n"));
        Assert.Equal(exitCode, exit);
    }

    [Theory]
    [InlineData(new[] { "--silo-prot", "11112" }, "unknown switch '--silo-prot' (did you mean --silo-port?) (see --help).")]
    [InlineData(new[] { "--verbose" }, "unknown switch '--verbose' (see --help).")]
    [InlineData(new[] { "--data-dir", "d", "start" }, "unexpected argument 'start'; switches take the form --name value (see --help).")]
    [InlineData(new[] { "Silo:SiloProt=11112" }, "unknown setting 'Silo:SiloProt' (see --help).")]
    [InlineData(new[] { "--data-dir" }, "--data-dir needs a value.")]
    public Task Unknown_switches_and_stray_words_are_refused(string[] args, string expected) =>
        AssertRefused(ExitCodes.BadInput, expected, args);

    [Theory]
    [InlineData(new[] { "--silo-port", "1.5" }, "Silo:SiloPort (--silo-port) '1.5' is not a whole number.")]
    [InlineData(new[] { "--gateway-port", "abc" }, "Silo:GatewayPort (--gateway-port) 'abc' is not a whole number.")]
    [InlineData(new[] { "--membership", "foo" }, "Silo:Membership (--membership) 'foo' must be localhost, development or redis.")]
    [InlineData(new[] { "--silo-port", "70000" }, "Silo:SiloPort (--silo-port) must be between 1 and 65535 (was 70000).")]
    [InlineData(new[] { "--http-port", "0" }, "Silo:HttpPort (--http-port) must be between 1 and 65535 (was 0).")]
    [InlineData(new[] { "--http-port", "30000" }, "Silo:HttpPort (--http-port) must differ from Silo:SiloPort and Silo:GatewayPort (was 30000, which one of them uses).")]
    [InlineData(new[] { "--http-address", "localhost" }, "Silo:HttpAddress (--http-address) 'localhost' is not an IP address.")]
    [InlineData(new[] { "--Silo:OtlpEndpoint", "127.0.0.1:4317" }, "Silo:OtlpEndpoint '127.0.0.1:4317' is not an http:// or https:// address.")]
    [InlineData(new[] { "--Silo:Dashboard", "maybe" }, "Silo:Dashboard 'maybe' is not a valid Boolean.")]
    public Task Values_that_do_not_parse_or_are_out_of_range_are_refused_naming_the_key_and_switch(string[] args, string expected) =>
        AssertRefused(ExitCodes.BadInput, expected, args);

    [Theory]
    [InlineData("--Pyralog:Obelisk:LeaseDuration", "10")]
    [InlineData("--Pyralog:Obelisk:MaxClockSkew", "0.5")]
    [InlineData("--Pyralog:Obelisk:ReserveAhead", "250 ms")]
    public Task A_duration_without_a_unit_is_refused_naming_the_key(string key, string value) =>
        AssertRefused(
            ExitCodes.BadInput,
            $"{key[2..]} '{value}' is not a duration: give a number with a unit (500ms, 10s, 2m, 1h) or hh:mm:ss.",
            key, value);

    [Fact]
    public Task A_data_directory_that_cannot_be_created_is_refused_at_start_up() =>
        AssertRefused(
            ExitCodes.BadInput,
            "cannot create data directory /proc/pyralog-data: Could not find file '/proc/pyralog-data'.",
            "--data-dir", "/proc/pyralog-data");

    [Fact]
    public async Task A_data_directory_locked_by_another_process_is_refused_naming_it()
    {
        using var held = DataDirectoryLock.Acquire(_data);
        var lockFile = Path.Combine(_data, "LOCK");
        await AssertRefused(
            ExitCodes.BadInput,
            $"data directory {_data} is in use by {ThisProcess()} (it holds {lockFile}); give each silo its own --data-dir.",
            "--data-dir", _data, "--silo-port", $"{TestPorts.Next()}", "--gateway-port", $"{TestPorts.Next()}");
        held.Dispose();
        Assert.Equal($"{Environment.ProcessId}\n", File.ReadAllText(lockFile));
    }

    /// <summary>Orleans' own listeners set ReuseAddress (SO_REUSEPORT on Linux), which would let a second listener share the port.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_port_another_process_listens_on_is_refused_naming_it(bool reusePort)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, reusePort);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        await AssertRefused(
            ExitCodes.BadInput,
            $"gateway port {port} on 127.0.0.1 is already in use by {ThisProcess()}; stop that process or choose another port with --gateway-port.",
            "--data-dir", _data, "--silo-port", $"{TestPorts.Next()}", "--gateway-port", $"{port}", "--http-port", $"{TestPorts.Next()}");
    }

    [Fact]
    public async Task An_http_port_in_use_is_refused_naming_it()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        await AssertRefused(
            ExitCodes.BadInput,
            $"HTTP port {port} on 127.0.0.1 is already in use by {ThisProcess()}; stop that process or choose another port with --http-port.",
            "--data-dir", _data, "--silo-port", $"{TestPorts.Next()}", "--gateway-port", $"{TestPorts.Next()}", "--http-port", $"{port}");
    }

    /// <summary>
    /// The refusal comes from the probe, which gives up after one attempt of at most 3 s (<see cref="ClusterStoreProbe.ProbeOptions"/>,
    /// checked below without a clock); the process test, whose start-up time depends on the machine's load, bounds only a hang.
    /// </summary>
    [Fact]
    public async Task An_unreachable_redis_is_exit_1_naming_it_promptly()
    {
        var clock = Stopwatch.StartNew();
        await AssertRefused(
            ExitCodes.ClusterUnreachable,
            "cannot reach Redis at 127.0.0.1:1 (the cluster store for membership and obelisk leases): UnableToConnect (no answer).",
            "--membership", "redis", "--redis", "127.0.0.1:1", "--data-dir", _data,
            "--silo-port", $"{TestPorts.Next()}", "--gateway-port", $"{TestPorts.Next()}", "--http-port", $"{TestPorts.Next()}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
    }

    /// <summary>StackExchange.Redis throws ArgumentException for these where the silo is built or first connects; the value may hold a password, so it is not repeated.</summary>
    [Theory]
    [InlineData("127.0.0.1:1,pasword=x", "is not a StackExchange.Redis connection string: Keyword 'pasword' is not supported.")]
    [InlineData("password=x", "names no Redis server: give host:port first, e.g. '127.0.0.1:6379,password=...'.")]
    public Task A_redis_connection_string_StackExchange_Redis_refuses_is_bad_input_naming_the_setting(string redis, string problem) =>
        AssertRefused(
            ExitCodes.BadInput,
            $"Silo:RedisConnectionString (--redis) {problem}",
            "--membership", "redis", "--redis", redis, "--data-dir", _data,
            "--silo-port", $"{TestPorts.Next()}", "--gateway-port", $"{TestPorts.Next()}", "--http-port", $"{TestPorts.Next()}");

    /// <summary>192.0.2.1 is TEST-NET-1 (RFC 5737), documentation only: no machine has it.</summary>
    [Fact]
    public Task An_http_address_of_another_machine_is_refused_naming_its_switch() =>
        AssertRefused(
            ExitCodes.BadInput,
            "--http-address 192.0.2.1 is not an address of this machine (Cannot assign requested address).",
            "--http-address", "192.0.2.1", "--data-dir", _data,
            "--silo-port", $"{TestPorts.Next()}", "--gateway-port", $"{TestPorts.Next()}", "--http-port", $"{TestPorts.Next()}");

    /// <summary>
    /// The failures a test cannot cause on every machine (a privileged port needs a process that is not root, a missing
    /// address family a host without IPv6): each is one line naming what to change, never a crash.
    /// </summary>
    [Fact]
    public void A_port_or_address_the_machine_refuses_is_named_with_the_switch_to_change()
    {
        var loopback = IPAddress.Loopback;
        var denied = new SocketException((int)SocketError.AccessDenied);
        var refusal = PortCheck.Refusal(denied, loopback, "--address", 80, "silo port", "--silo-port");
        Assert.Equal(ExitCodes.BadInput, refusal.ExitCode);
        Assert.Equal(
            $"this process may not bind silo port 80 on 127.0.0.1 ({denied.Message}): ports below 1024 need root or CAP_NET_BIND_SERVICE; choose another port with --silo-port.",
            refusal.Message);

        var noIpv6 = new SocketException((int)SocketError.AddressFamilyNotSupported);
        Assert.Equal(
            $"--http-address ::1 is an IPv6 address, which this machine does not support ({noIpv6.Message}).",
            PortCheck.Refusal(noIpv6, IPAddress.IPv6Loopback, "--http-address", 8080, "HTTP port", "--http-port").Message);

        var other = new SocketException((int)SocketError.InvalidArgument);
        Assert.Equal(
            $"cannot bind gateway port 30000 on 127.0.0.1 ({other.Message}); check --address and --gateway-port.",
            PortCheck.Refusal(other, loopback, "--address", 30000, "gateway port", "--gateway-port").Message);
    }

    /// <summary>
    /// The store opens once Orleans has started (its log is on stdout), so a store that does not open is one line on
    /// stderr and exit code 3, after the silo stopped what had started.
    /// </summary>
    [Fact]
    public async Task A_store_that_does_not_open_is_exit_3_with_the_stores_reason()
    {
        var store = Path.Combine(_data, "store");
        File.WriteAllText(store, ""); // a file where the store's directory goes
        var (exit, _, error) = await SiloProcess.RunToExitAsync(
            "--data-dir", _data, "--silo-port", $"{TestPorts.Next()}", "--gateway-port", $"{TestPorts.Next()}", "--http-port", $"{TestPorts.Next()}");
        Assert.Equal(
            $"pyralog silo: the store did not open: cannot open store directory '{store}' (is it open in another process, or not writable?): The file '{store}' already exists.\n",
            error.ReplaceLineEndings("\n"));
        Assert.Equal(ExitCodes.StoreFailed, exit);
    }

    [Fact]
    public void The_redis_probe_tries_once_for_at_most_three_seconds_whatever_the_connection_string_says()
    {
        var probe = ClusterStoreProbe.ProbeOptions(StackExchange.Redis.ConfigurationOptions.Parse("127.0.0.1:1,connectTimeout=60000,connectRetry=5,abortConnect=false"));
        Assert.Equal(3000, probe.ConnectTimeout);
        Assert.Equal(1, probe.ConnectRetry);
        Assert.True(probe.AbortOnConnectFail);
        Assert.Equal(1000, ClusterStoreProbe.ProbeOptions(StackExchange.Redis.ConfigurationOptions.Parse("127.0.0.1:1,connectTimeout=1000")).ConnectTimeout);
    }

    [Fact]
    public async Task An_unreachable_redis_named_by_host_name_is_named_as_written()
    {
        // StackExchange.Redis keeps a host name as a DnsEndPoint, whose own text is "Unspecified/localhost:1".
        var refused = await Assert.ThrowsAsync<StartupRefusedException>(() =>
            ClusterStoreProbe.EnsureReachableAsync(StackExchange.Redis.ConfigurationOptions.Parse("localhost:1,connectTimeout=1000"), CancellationToken.None));
        Assert.Equal(ExitCodes.ClusterUnreachable, refused.ExitCode);
        Assert.StartsWith("cannot reach Redis at localhost:1 (the cluster store for membership and obelisk leases): UnableToConnect", refused.Message, StringComparison.Ordinal);
    }
}
