using Pyralog.Grains.Hosting;

namespace Pyralog.Grains.Tests.Hosting;

public sealed class PyralogOptionsValidatorTests
{
    private readonly PyralogOptionsValidator _validator = new();

    [Fact]
    public void The_defaults_are_valid() => Assert.True(_validator.Validate(null, new PyralogOptions()).Succeeded);

    [Fact]
    public void Every_wrong_setting_is_named()
    {
        var options = new PyralogOptions { DataDirectory = "" };
        options.Obelisk.LeaseDuration = TimeSpan.FromMilliseconds(10);
        options.Obelisk.MaxClockLead = TimeSpan.Zero;
        options.Obelisk.ReserveAhead = TimeSpan.FromHours(1);
        var result = _validator.Validate(null, options);
        Assert.True(result.Failed);
        var failures = result.Failures!.ToArray();
        Assert.Contains(failures, f => f.StartsWith("Pyralog:DataDirectory", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Pyralog:Obelisk:LeaseDuration", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Pyralog:Obelisk:MaxClockSkew", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Pyralog:Obelisk:MaxClockLead", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Pyralog:Obelisk:ReserveAhead", StringComparison.Ordinal));
        Assert.Equal(5, failures.Length);
    }
}
