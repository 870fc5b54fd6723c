using Microsoft.Extensions.Options;
using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Client.Obelisk;

/// <summary>
/// The rules of <see cref="ScarabIdGeneratorOptions"/> a range cannot express: each listed obelisk id valid and named
/// once (requests to one id are chained to keep its blocks in order; a repeated id would get two chains), and
/// <see cref="ScarabIdGeneratorOptions.Spread"/> checked only when no ids are listed. <c>name</c> is the path failures are named under.
/// </summary>
internal sealed class ScarabIdGeneratorOptionsRules : IValidateOptions<ScarabIdGeneratorOptions>
{
    public ValidateOptionsResult Validate(string? name, ScarabIdGeneratorOptions options)
    {
        if (options.ObeliskIds is { } ids)
        {
            var shown = $"[{string.Join(", ", ids)}]";
            var builder = new ValidateOptionsResultBuilder();
            if (ids.Any(id => id is < 0 or > ScarabId.MaxObeliskId))
            {
                builder.AddError($"{name}.ObeliskIds must each be an obelisk id in 0..{ScarabId.MaxObeliskId} (was {shown}).");
            }

            if (ids.Distinct().Count() != ids.Count)
            {
                builder.AddError($"{name}.ObeliskIds must not name an obelisk id twice (was {shown}).");
            }

            return builder.Build();
        }

        return options.Spread is < 1 or > ScarabId.MaxObeliskId + 1
            ? ValidateOptionsResult.Fail($"{name}.Spread must be in 1..{ScarabId.MaxObeliskId + 1} (was {options.Spread}).")
            : ValidateOptionsResult.Success;
    }
}
