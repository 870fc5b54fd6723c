using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace Pyralog.Grains.Hosting;

/// <summary>
/// Refuses an obelisk lease that cannot be taken within Orleans' activation timeout: an obelisk's first activation after
/// its holder left waits out the old lease (plus the clock skew) before it issues, and an activation slower than
/// <see cref="GrainCollectionOptions.ActivationTimeout"/> fails every call that needs it.
/// </summary>
internal sealed class ObeliskActivationTimeoutValidator(IOptions<GrainCollectionOptions> collection) : IValidateOptions<PyralogOptions>
{
    public ValidateOptionsResult Validate(string? name, PyralogOptions options)
    {
        // In ticks as Int128: a lease at its range's top plus the skew is past what a TimeSpan holds, and the sum must
        // fail validation naming the settings rather than throw.
        var wait = (Int128)options.Obelisk.LeaseDuration.Ticks + options.Obelisk.MaxClockSkew.Ticks;
        var timeout = collection.Value.ActivationTimeout;
        return wait < timeout.Ticks
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"Pyralog:Obelisk:LeaseDuration ({options.Obelisk.LeaseDuration}) plus MaxClockSkew ({options.Obelisk.MaxClockSkew}) must be shorter than " +
                $"Orleans' GrainCollectionOptions.ActivationTimeout ({timeout}): an obelisk's first activation after its holder left waits that long.");
    }
}
