using Microsoft.Extensions.Options;

namespace Pyralog.Grains.Hosting;

/// <summary>
/// The rules of <see cref="ObeliskOptions"/> across settings: a holder renews at half its lease, so the clock skew must
/// fit in the other half for leases to order activations. And one replacing a holder whose lease record was lost waits a
/// lease plus the skew, so it starts from its own clock at least half a lease (plus the skew) after that holder stopped;
/// the holder's IDs must not have run further ahead of the clocks than that. They run ahead by up to ReserveAhead plus
/// twice MaxClockLead: a holder resumed from its counter file starts its clock where the file's reservation ends,
/// ReserveAhead past the IDs issued before, which ran up to MaxClockLead ahead of their clock, and issues up to
/// MaxClockLead ahead of that. The rule counts MaxClockSkew in too (margin: the wait already covers the skew). A minute's
/// reservation under a 10 s lease issued the same IDs twice; a 1 s lead under a 1 s lease could too.
/// <c>name</c> is the section failures are named under.
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

        // Summed in ticks as Int128: each setting may be anything a TimeSpan holds (its range failure is reported
        // beside this one), and a TimeSpan sum past TimeSpan.MaxValue would throw out of validation instead.
        var ahead = (Int128)options.ReserveAhead.Ticks + options.MaxClockSkew.Ticks + (2 * (Int128)options.MaxClockLead.Ticks);
        return ahead >= half.Ticks
            ? ValidateOptionsResult.Fail(
                $"{name}: ReserveAhead plus MaxClockSkew plus twice MaxClockLead must be shorter than half of LeaseDuration ({half}) "
                + $"(was {options.ReserveAhead} + {options.MaxClockSkew} + 2 × {options.MaxClockLead}).")
            : ValidateOptionsResult.Success;
    }
}
