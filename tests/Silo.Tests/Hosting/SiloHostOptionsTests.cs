using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Interfaces;
using Pyralog.Silo.Hosting;

namespace Pyralog.Silo.Tests.Hosting;

public sealed class SiloHostOptionsTests
{
    [Fact]
    public void The_defaults_are_valid_and_stay_on_loopback()
    {
        var options = new SiloHostOptions();
        Assert.Empty(PyralogSiloHost.Validate(options));
        Assert.Equal("127.0.0.1", options.Address);
        Assert.Equal(MembershipMode.Localhost, options.Membership);
    }

    [Fact]
    public void Every_wrong_setting_is_named()
    {
        var failures = PyralogSiloHost.Validate(new SiloHostOptions
        {
            ClusterId = " ",
            Address = "not-an-ip",
            SiloPort = 0,
            GatewayPort = 70000,
            Membership = MembershipMode.Redis,
        });
        Assert.Contains("Silo:ClusterId (--cluster-id) must not be empty (was ' ').", failures);
        Assert.Contains(failures, f => f.Contains("'not-an-ip' is not an IP address"));
        Assert.Contains(failures, f => f.Contains("Silo:SiloPort") && f.Contains("(was 0)"));
        Assert.Contains(failures, f => f.Contains("Silo:GatewayPort") && f.Contains("(was 70000)"));
        Assert.Contains("Silo:RedisConnectionString (--redis) must be set when Silo:Membership is 'redis' (was null).", failures);
        Assert.Equal(5, failures.Count);
    }

    [Fact]
    public void Equal_silo_and_gateway_ports_are_refused()
    {
        var failures = PyralogSiloHost.Validate(new SiloHostOptions { SiloPort = 5000, GatewayPort = 5000 });
        Assert.Equal(["Silo:SiloPort (--silo-port) and Silo:GatewayPort must differ (both are 5000)."], failures);
    }

    /// <summary>Each range refuses the value one step outside it and accepts its bound (TimeSpans step by one tick).</summary>
    [Theory]
    [InlineData("SiloPort", "1", "0")]
    [InlineData("SiloPort", "65535", "65536")]
    [InlineData("GatewayPort", "1", "0")]
    [InlineData("GatewayPort", "65535", "65536")]
    [InlineData("HttpPort", "1", "0")]
    [InlineData("HttpPort", "65535", "65536")]
    [InlineData("ProbeTimeout", "00:00:00.1", "00:00:00.0999999")]
    [InlineData("ProbeTimeout", "00:05:00", "00:05:00.0000001")]
    [InlineData("LoadStatisticsInterval", "00:00:01", "00:00:00.9999999")]
    [InlineData("LoadStatisticsInterval", "00:10:00", "00:10:00.0000001")]
    [InlineData("MissedProbesLimit", "1", "0")]
    [InlineData("MissedProbesLimit", "10", "11")]
    public void A_range_refuses_one_step_outside_and_accepts_its_bound(string setting, string bound, string outside)
    {
        Assert.Empty(PyralogSiloHost.Validate(With(setting, bound)));
        var failure = Assert.Single(PyralogSiloHost.Validate(With(setting, outside)));
        Assert.StartsWith($"Silo:{setting} ", failure, StringComparison.Ordinal);
        Assert.EndsWith($"(was {Value(setting, outside)}).", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Rules_across_settings_name_each_setting()
    {
        Assert.Equal(
            ["Silo:HttpPort (--http-port) must differ from Silo:SiloPort and Silo:GatewayPort (was 11111, which one of them uses)."],
            PyralogSiloHost.Validate(new SiloHostOptions { HttpPort = 11111 }));
        Assert.Equal(
            ["Silo:HttpAddress (--http-address) 'localhost' is not an IP address.", "Silo:OtlpEndpoint 'ftp://x' is not an http:// or https:// address."],
            PyralogSiloHost.Validate(new SiloHostOptions { HttpAddress = "localhost", OtlpEndpoint = "ftp://x" }));
        Assert.Empty(PyralogSiloHost.Validate(new SiloHostOptions { PrimarySiloPort = 0 }));
        Assert.Equal(
            ["Silo:PrimarySiloPort (--primary-port) must be a port in 1..65535 in development membership (was 0)."],
            PyralogSiloHost.Validate(new SiloHostOptions { Membership = MembershipMode.Development, PrimarySiloPort = 0 }));
        Assert.Empty(PyralogSiloHost.Validate(new SiloHostOptions { Membership = MembershipMode.Redis, RedisConnectionString = "localhost:6379" }));
    }

    /// <summary>Parsed as the silo will parse it, so a value StackExchange.Redis refuses is named here, not thrown while the silo is built.</summary>
    [Theory]
    [InlineData(MembershipMode.Redis, "127.0.0.1:1,pasword=x", "is not a StackExchange.Redis connection string: Keyword 'pasword' is not supported.")]
    [InlineData(MembershipMode.Redis, "127.0.0.1:1,connectTimeout=soon", "is not a StackExchange.Redis connection string: Keyword 'connectTimeout' requires an integer value; the value 'soon' is not recognised.")]
    [InlineData(MembershipMode.Redis, "password=x", "names no Redis server: give host:port first, e.g. '127.0.0.1:6379,password=...'.")]
    [InlineData(MembershipMode.Localhost, "password=x", "names no Redis server: give host:port first, e.g. '127.0.0.1:6379,password=...'.")]
    public void A_redis_connection_string_is_parsed_and_needs_a_server(MembershipMode membership, string redis, string problem)
    {
        Assert.Equal(
            [$"Silo:RedisConnectionString (--redis) {problem}"],
            PyralogSiloHost.Validate(new SiloHostOptions { Membership = membership, RedisConnectionString = redis }));
        Assert.Empty(PyralogSiloHost.Validate(new SiloHostOptions { Membership = membership, RedisConnectionString = "redis1:6379,redis2:6379,password=x,connectTimeout=500" }));
    }

    [Fact]
    public void Membership_probe_timing_reaches_orleans_and_is_bounded()
    {
        using var host = PyralogSiloHost.CreateBuilder(["--Silo:ProbeTimeout", "750ms", "Silo:MissedProbesLimit=2"]).Build();
        var membership = host.Services.GetRequiredService<IOptions<Orleans.Configuration.ClusterMembershipOptions>>().Value;
        Assert.Equal(TimeSpan.FromMilliseconds(750), membership.ProbeTimeout);
        Assert.Equal(2, membership.NumMissedProbesLimit);

        using var defaults = PyralogSiloHost.CreateBuilder([]).Build();
        var orleansDefaults = new Orleans.Configuration.ClusterMembershipOptions();
        var unset = defaults.Services.GetRequiredService<IOptions<Orleans.Configuration.ClusterMembershipOptions>>().Value;
        Assert.Equal(orleansDefaults.ProbeTimeout, unset.ProbeTimeout);
        Assert.Equal(orleansDefaults.NumMissedProbesLimit, unset.NumMissedProbesLimit);
    }

    [Fact]
    public void Load_statistics_go_out_every_ten_seconds_unless_set()
    {
        using var defaults = PyralogSiloHost.CreateBuilder([]).Build();
        Assert.Equal(TimeSpan.FromSeconds(10), defaults.Services.GetRequiredService<IOptions<Orleans.Configuration.DeploymentLoadPublisherOptions>>().Value.DeploymentLoadPublisherRefreshTime);
        using var set = PyralogSiloHost.CreateBuilder(["--Silo:LoadStatisticsInterval", "2s"]).Build();
        Assert.Equal(TimeSpan.FromSeconds(2), set.Services.GetRequiredService<IOptions<Orleans.Configuration.DeploymentLoadPublisherOptions>>().Value.DeploymentLoadPublisherRefreshTime);

        var failures = PyralogSiloHost.Validate(new SiloHostOptions { ProbeTimeout = TimeSpan.FromMilliseconds(50), MissedProbesLimit = 0 });
        Assert.Equal(["Silo:ProbeTimeout must be between 00:00:00.1000000 and 00:05:00 (was 00:00:00.0500000).", "Silo:MissedProbesLimit must be between 1 and 10 (was 0)."], failures);
        var e = Assert.Throws<OptionsValidationException>(() => PyralogSiloHost.CreateBuilder(["--Silo:ProbeTimeout", "2"]));
        Assert.Contains(e.Failures, f => f.Contains("Silo:ProbeTimeout '2' is not a duration"));
    }

    [Fact]
    public void Replication_settings_reach_the_grains()
    {
        using var host = PyralogSiloHost.CreateBuilder(
            ["--Pyralog:Replication:TickInterval", "50ms", "--Pyralog:Replication:ElectionTicks", "12", "--Pyralog:Replication:HomecomingInterval", "2s", "--Pyralog:MetadataReplicas", "5"]).Build();
        var options = host.Services.GetRequiredService<IOptions<Pyralog.Grains.Hosting.PyralogOptions>>().Value;
        Assert.Equal(TimeSpan.FromMilliseconds(50), options.Replication.TickInterval);
        Assert.Equal(12, options.Replication.ElectionTicks);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Replication.HomecomingInterval);
        Assert.Equal(5, options.MetadataReplicas);
    }

    [Fact]
    public void The_threads_run_under_SCHED_BATCH_unless_set_to_normal()
    {
        using var defaults = PyralogSiloHost.CreateBuilder([]).Build();
        Assert.Equal(CpuScheduling.Batch, defaults.Services.GetRequiredService<SiloHostOptions>().CpuScheduling);
        Assert.Single(defaults.Services.GetServices<IHostedService>().OfType<ThreadScheduling>());
        using var normal = PyralogSiloHost.CreateBuilder(["--Silo:CpuScheduling", "Normal"]).Build();
        Assert.Empty(normal.Services.GetServices<IHostedService>().OfType<ThreadScheduling>());
        var e = Assert.Throws<OptionsValidationException>(() => PyralogSiloHost.CreateBuilder(["--Silo:CpuScheduling", "Fast"]));
        Assert.Contains("Silo:CpuScheduling 'Fast' must be normal or batch.", e.Failures);
    }

    [Theory]
    [InlineData("--silo-port", "abc", "Silo:SiloPort")]
    [InlineData("--membership", "foo", "Silo:Membership")]
    [InlineData("--data-dir", "", "Pyralog:DataDirectory")]
    public void A_value_of_the_wrong_type_is_named(string name, string value, string key)
    {
        var e = Assert.Throws<OptionsValidationException>(() => PyralogSiloHost.CreateBuilder([name, value]).Build().Services.GetRequiredService<IOptions<Pyralog.Grains.Hosting.PyralogOptions>>().Value);
        Assert.Contains(e.Failures, f => f.Contains(key));
    }

    [Fact]
    public void Command_line_switches_reach_the_options_and_bad_ones_stop_the_build()
    {
        var e = Assert.Throws<OptionsValidationException>(() => PyralogSiloHost.CreateBuilder(["--silo-port", "99999", "--membership", "redis"]));
        Assert.Contains(e.Failures, f => f.Contains("(was 99999)"));
        Assert.Contains(e.Failures, f => f.Contains("RedisConnectionString"));
    }

    [Fact]
    public void A_misspelt_key_in_a_settings_file_stops_the_build_naming_it_and_the_file()
    {
        // Under Silo and Pyralog every key must be a setting; sections of others (Logging, Orleans) are left alone.
        var directory = Directory.CreateTempSubdirectory("pyralog-settings-").FullName;
        try
        {
            var file = Path.Combine(directory, "settings.json");
            File.WriteAllText(file, """
                {
                  "Logging": { "LogLevel": { "Pyralog": "Debug" } },
                  "Orleans": { "Anything": "1" },
                  "Silo": { "Membershp": "Redis", "SiloPort": 11112 },
                  "Pyralog": { "Replication": { "MoveOffTimout": "5m", "DrainTimeout": "5s" }, "Storage": { "Durability": "None" }, "Stor": { "X": "1" } }
                }
                """);
            var e = Assert.Throws<OptionsValidationException>(() => PyralogSiloHost.CreateBuilder([], sources => sources.AddJsonFile(file)));
            Assert.Equal(
                [
                    $"unknown setting 'Pyralog:Replication:MoveOffTimout' in {file} (did you mean Pyralog:Replication:MoveOffTimeout?) (see --help).",
                    $"unknown setting 'Pyralog:Stor:X' in {file} (see --help).",
                    $"unknown setting 'Pyralog:Storage:Durability' in {file} (did you mean Pyralog:Store:Durability?) (see --help).",
                    $"unknown setting 'Silo:Membershp' in {file} (did you mean Silo:Membership?) (see --help).",
                ],
                e.Failures);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Known_keys_from_any_source_build()
    {
        using var host = PyralogSiloHost.CreateBuilder(
            [],
            sources => sources.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Silo:MissedProbesLimit"] = "2",
                ["pyralog:replication:drainTimeout"] = "5s", // keys are case-insensitive
                ["Logging:LogLevel:Pyralog"] = "Debug",
                ["Orleans:Anything"] = "1",
            })).Build();
        Assert.Equal(TimeSpan.FromSeconds(5), host.Services.GetRequiredService<IOptions<Pyralog.Grains.Hosting.PyralogOptions>>().Value.Replication.DrainTimeout);
    }

    /// <summary>The silo process given a misspelt key in its environment (the test process's own is left alone): exit 2 and one line naming the variable.</summary>
    [Fact]
    public async Task A_misspelt_key_in_the_environment_stops_the_silo_naming_the_variable()
    {
        // Ports and a data directory of its own: a silo that ignored the key would start.
        var data = Directory.CreateTempSubdirectory("pyralog-settings-").FullName;
        var siloPort = Pyralog.Testing.TestPorts.Next();
        var info = SiloProcess.StartInfo(
            ["--data-dir", data, "--silo-port", $"{siloPort}", "--gateway-port", $"{Pyralog.Testing.TestPorts.Next()}", "--http-port", $"{Pyralog.Testing.TestPorts.Next()}", "--cluster-id", $"test-{siloPort}"]);
        info.Environment["PYRALOG_Silo__Membershp"] = "Redis";
        using var process = System.Diagnostics.Process.Start(info) ?? throw new InvalidOperationException("could not start the silo");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            Assert.Equal("", await output);
            Assert.Equal(
                "pyralog silo: unknown setting 'Silo:Membershp' in environment variable PYRALOG_Silo__Membershp (did you mean Silo:Membership?) (see --help).\n",
                (await error).ReplaceLineEndings("\n"));
            Assert.Equal(Pyralog.Silo.Startup.ExitCodes.BadInput, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            Directory.Delete(data, recursive: true);
        }
    }

    private static SiloHostOptions With(string setting, string value)
    {
        var options = new SiloHostOptions();
        typeof(SiloHostOptions).GetProperty(setting)!.SetValue(options, Value(setting, value));
        return options;
    }

    private static object Value(string setting, string value)
    {
        var type = typeof(SiloHostOptions).GetProperty(setting)!.PropertyType;
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type == typeof(TimeSpan)
            ? TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture)
            : Convert.ChangeType(value, type, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void The_any_address_listens_on_every_interface_and_advertises_this_host()
    {
        using var host = PyralogSiloHost.CreateBuilder(["--Silo:Address", "0.0.0.0"]).Build();
        var endpoints = host.Services.GetRequiredService<IOptions<Orleans.Configuration.EndpointOptions>>().Value;
        Assert.False(endpoints.AdvertisedIPAddress.Equals(System.Net.IPAddress.Any)); // Orleans refuses to advertise "any"
        Assert.True(endpoints.SiloListeningEndpoint?.Address.Equals(System.Net.IPAddress.Any));
    }

    [Fact]
    public void The_IPv6_any_address_is_refused_naming_what_to_use() =>
        Assert.Equal(
            ["Silo:Address (--address) '::' (every IPv6 interface) is not supported: use 0.0.0.0 to listen on every interface, or the address to advertise."],
            PyralogSiloHost.Validate(new SiloHostOptions { Address = "::" }));
}
