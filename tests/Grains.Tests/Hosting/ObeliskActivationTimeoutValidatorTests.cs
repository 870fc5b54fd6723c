using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Pyralog.Grains.Hosting;

namespace Pyralog.Grains.Tests.Hosting;

public sealed class ObeliskActivationTimeoutValidatorTests
{
    [Fact]
    public void A_lease_an_activation_can_wait_out_is_accepted()
    {
        var options = new PyralogOptions();
        options.Obelisk.LeaseDuration = TimeSpan.FromSeconds(10);
        Assert.True(Validator(TimeSpan.FromSeconds(30)).Validate(null, options).Succeeded);
    }

    [Fact]
    public void A_lease_longer_than_the_activation_timeout_is_refused_naming_both()
    {
        var options = new PyralogOptions();
        options.Obelisk.LeaseDuration = TimeSpan.FromSeconds(30);
        options.Obelisk.MaxClockSkew = TimeSpan.FromMilliseconds(500);
        var result = Validator(TimeSpan.FromSeconds(30)).Validate(null, options);
        Assert.True(result.Failed);
        Assert.Equal(
            "Pyralog:Obelisk:LeaseDuration (00:00:30) plus MaxClockSkew (00:00:00.5000000) must be shorter than Orleans' " +
            "GrainCollectionOptions.ActivationTimeout (00:00:30): an obelisk's first activation after its holder left waits that long.",
            result.FailureMessage);
    }

    [Fact]
    public void A_lease_at_the_top_of_its_range_plus_the_skew_fails_validation_rather_than_overflowing()
    {
        // TimeSpan.MaxValue is inside LeaseDuration's range; adding the skew to it threw OverflowException.
        var options = new PyralogOptions();
        options.Obelisk.LeaseDuration = TimeSpan.MaxValue;
        var result = Validator(TimeSpan.FromSeconds(30)).Validate(null, options);
        Assert.True(result.Failed);
        Assert.Equal(
            "Pyralog:Obelisk:LeaseDuration (10675199.02:48:05.4775807) plus MaxClockSkew (00:00:00.5000000) must be shorter than Orleans' " +
            "GrainCollectionOptions.ActivationTimeout (00:00:30): an obelisk's first activation after its holder left waits that long.",
            result.FailureMessage);
    }

    private static ObeliskActivationTimeoutValidator Validator(TimeSpan activationTimeout) =>
        new(Options.Create(new GrainCollectionOptions { ActivationTimeout = activationTimeout }));
}
