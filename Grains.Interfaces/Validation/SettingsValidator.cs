using Microsoft.Extensions.Options;

namespace Pyralog.Grains.Interfaces.Validation;

/// <summary>
/// One options type's validation: its data annotations (through the source-generated validator, with
/// <see cref="SettingFailures"/> messages) and then its cross-field rules, for DI and for code that validates directly.
/// </summary>
/// <param name="section">The root of the setting paths in messages (see <see cref="SettingFailures.Describe"/>).</param>
/// <param name="configurationPath">Whether <paramref name="section"/> is a configuration section (<c>Section:A:B</c>).</param>
/// <param name="annotations">The generated validator of the type's data annotations.</param>
/// <param name="rules">Hand-written rules across settings; their failures start with the setting's path.</param>
public sealed class SettingsValidator<TOptions>(
    string section, bool configurationPath, IValidateOptions<TOptions> annotations, IValidateOptions<TOptions>? rules = null)
    : IValidateOptions<TOptions>
    where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = (annotations.Validate(section, options).Failures ?? [])
            .Select(f => SettingFailures.Describe(f, section, options, configurationPath))
            .Concat(rules?.Validate(section, options).Failures ?? [])
            .ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming every wrong setting (its parameter name: the first).</summary>
    public void ThrowIfInvalid(TOptions options)
    {
        var result = Validate(null, options);
        if (result.Failed)
        {
            var failures = result.Failures!.ToList();
            throw new ArgumentException(string.Join(" ", failures), SettingFailures.Setting(failures[0]));
        }
    }
}
