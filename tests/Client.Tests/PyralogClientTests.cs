using Pyralog.Client;
using Pyralog.Client.Obelisk;
using Pyralog.Grains.Interfaces;
using Pyralog.Testing;

namespace Pyralog.Client.Tests;

public sealed class PyralogClientTests
{
    [Fact]
    public async Task An_unreachable_cluster_gives_one_clear_error_within_the_timeout()
    {
        var port = TestPorts.Next();
        var started = DateTime.UtcNow;
        var e = await Assert.ThrowsAsync<PyralogConnectionException>(() => PyralogClient.ConnectAsync(new PyralogClientOptions
        {
            GatewayPorts = [port],
            ConnectTimeout = TimeSpan.FromSeconds(1),
        }));
        Assert.Equal(
            $"no silo of cluster 'pyralog' answered at 127.0.0.1:{port} within 1 s: nothing listens there (is the silo running, and are the gateway ports right?)",
            e.Message);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void Client_options_name_what_is_wrong()
    {
        Assert.Equal("GatewayPorts", Assert.Throws<ArgumentException>(() => new PyralogClientOptions { GatewayPorts = [] }.Validate()).ParamName);
        Assert.Contains("70000", Assert.Throws<ArgumentException>(() => new PyralogClientOptions { GatewayPorts = [70000] }.Validate()).Message);
        Assert.Equal("RedisConnectionString", Assert.Throws<ArgumentException>(() => new PyralogClientOptions { Membership = MembershipMode.Redis }.Validate()).ParamName);
        Assert.Equal("ConnectTimeout", Assert.Throws<ArgumentException>(() => new PyralogClientOptions { ConnectTimeout = TimeSpan.Zero }.Validate()).ParamName);
        Assert.Equal("ClusterId", Assert.Throws<ArgumentException>(() => new PyralogClientOptions { ClusterId = "" }.Validate()).ParamName);
        Assert.Equal("ServiceId", Assert.Throws<ArgumentException>(() => new PyralogClientOptions { ServiceId = " " }.Validate()).ParamName);
    }

    [Fact]
    public void Generator_options_name_what_is_wrong()
    {
        var outOfRange = Assert.Throws<ArgumentException>(() => new ScarabIdGeneratorOptions { ObeliskIds = [1, 1024] }.Validate());
        Assert.Equal("ObeliskIds", outOfRange.ParamName);
        Assert.Contains("must each be an obelisk id in 0..1023 (was [1, 1024])", outOfRange.Message);
        Assert.Equal("ObeliskIds", Assert.Throws<ArgumentException>(() => new ScarabIdGeneratorOptions { ObeliskIds = [] }.Validate()).ParamName);
        Assert.Equal("BlockSize", Assert.Throws<ArgumentException>(() => new ScarabIdGeneratorOptions { BlockSize = 0 }.Validate()).ParamName);
        Assert.Equal("BlockSize", Assert.Throws<ArgumentException>(() => new ScarabIdGeneratorOptions { BlockSize = 65_537 }.Validate()).ParamName);
        Assert.Equal("PrefetchBlocks", Assert.Throws<ArgumentException>(() => new ScarabIdGeneratorOptions { PrefetchBlocks = 0 }.Validate()).ParamName);
        Assert.Equal("Spread", Assert.Throws<ArgumentException>(() => new ScarabIdGeneratorOptions { Spread = 2000 }.Validate()).ParamName);
        Assert.Equal("MaxAttempts", Assert.Throws<ArgumentException>(() => new ScarabIdGeneratorOptions { MaxAttempts = 0 }.Validate()).ParamName);
        Assert.Equal("ObeliskIds", Assert.Throws<ArgumentException>(() => new ScarabIdGeneratorOptions { ObeliskIds = [3, 4, 3] }.Validate()).ParamName);
        Assert.Equal("RequestDeadline", Assert.Throws<ArgumentException>(() => new ScarabIdGeneratorOptions { RequestDeadline = TimeSpan.Zero }.Validate()).ParamName);
    }
}
