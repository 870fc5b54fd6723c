using Microsoft.Extensions.Options;

namespace Pyralog.Grains.Hosting;

/// <summary>
/// The rules of <see cref="ObeliskOptions"/> across settings: a holder renews at half its lease, so the clock skew must
/// fit in the other half for leases to order activations; and an obelisk that reactivates on its silo resumes from its
/// counter file, up to ReserveAhead ahead of the clock, while one replacing it after its lease record was lost starts
/// from the clock half a lease after it stopped, so ReserveAhead plus the skew must fit in that half too (a minute's
/// reservation under a 10 s lease issued the same IDs twice). <c>name</c> is the section failures are named under.
/// </summary>
internal sealed class ObeliskOptionsRules : IValidateOptions<ObeliskOptions>
{
    public ValidateOptionsResult Validate(string? name, ObeliskOptions options)
    {
        var half = options.LeaseDuration / 2;
        if (options.MaxClockSkew >= half)
        {
            return ValidateOptionsResult.Fail($"{name}:MaxClockSkew must be shorter than half of LeaseDuration ({half}) (was {options.MaxClockSkew}).");
        }

        return options.ReserveAhead + options.MaxClockSkew >= half
            ? ValidateOptionsResult.Fail(
                $"{name}: ReserveAhead plus MaxClockSkew must be shorter than half of LeaseDuration ({half}) (was {options.ReserveAhead} + {options.MaxClockSkew}).")
            : ValidateOptionsResult.Success;
    }
}
