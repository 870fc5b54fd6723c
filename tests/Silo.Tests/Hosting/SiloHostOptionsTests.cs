using Microsoft.Extensions.DependencyInjection;
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
        Assert.Empty(SiloHostOptionsValidator.Validate(options));
        Assert.Equal("127.0.0.1", options.Address);
        Assert.Equal(MembershipMode.Localhost, options.Membership);
    }

    [Fact]
    public void Every_wrong_setting_is_named()
    {
        var failures = SiloHostOptionsValidator.Validate(new SiloHostOptions
        {
            ClusterId = " ",
            Address = "not-an-ip",
            SiloPort = 0,
            GatewayPort = 70000,
            Membership = MembershipMode.Redis,
        });
        Assert.Contains(failures, f => f.Contains("Silo:ClusterId"));
        Assert.Contains(failures, f => f.Contains("'not-an-ip' is not an IP address"));
        Assert.Contains(failures, f => f.Contains("Silo:SiloPort") && f.Contains("(was 0)"));
        Assert.Contains(failures, f => f.Contains("Silo:GatewayPort") && f.Contains("(was 70000)"));
        Assert.Contains(failures, f => f.Contains("--redis"));
        Assert.Equal(5, failures.Count);
    }

    [Fact]
    public void Equal_silo_and_gateway_ports_are_refused()
    {
        var failures = SiloHostOptionsValidator.Validate(new SiloHostOptions { SiloPort = 5000, GatewayPort = 5000 });
        Assert.Equal(["Silo:SiloPort and Silo:GatewayPort must differ (both are 5000)."], failures);
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

        var failures = SiloHostOptionsValidator.Validate(new SiloHostOptions { ProbeTimeout = TimeSpan.FromMilliseconds(50), MissedProbesLimit = 0 });
        Assert.Equal(["Silo:ProbeTimeout must be between 100ms and 5m (was 00:00:00.0500000).", "Silo:MissedProbesLimit must be in 1..10 (was 0)."], failures);
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
}
