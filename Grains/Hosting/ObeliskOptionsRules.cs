using Microsoft.Extensions.Options;

namespace Pyralog.Grains.Hosting;

/// <summary>
/// The rule of <see cref="ObeliskOptions"/> across settings: a holder renews at half its lease, so the clock skew must
/// fit in the other half for leases to order activations. <c>name</c> is the section failures are named under.
/// </summary>
internal sealed class ObeliskOptionsRules : IValidateOptions<ObeliskOptions>
{
    public ValidateOptionsResult Validate(string? name, ObeliskOptions options) =>
        options.MaxClockSkew >= options.LeaseDuration / 2
            ? ValidateOptionsResult.Fail(
                $"{name}:MaxClockSkew must be shorter than half of LeaseDuration ({options.LeaseDuration / 2}) (was {options.MaxClockSkew}).")
            : ValidateOptionsResult.Success;
}
