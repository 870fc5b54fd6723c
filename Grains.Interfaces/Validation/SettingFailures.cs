using System.Collections;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Pyralog.Grains.Interfaces.Validation;

/// <summary>
/// Rewrites a source-generated options validator's failures (<c>Member: The field Section.A.Member must be …</c>) to
/// name the setting by its path and the value it was given, which the generated messages leave out.
/// </summary>
public static partial class SettingFailures
{
    /// <param name="failure">One failure of a generated validator called with <paramref name="section"/> as its name.</param>
    /// <param name="section">The root of every setting path: a configuration section, or the options type's name.</param>
    /// <param name="options">The options validated, to read the rejected value from.</param>
    /// <param name="configurationPath">Name settings <c>Section:A:B</c> (configuration keys) rather than <c>Section.A.B</c>.</param>
    public static string Describe(string failure, string section, object options, bool configurationPath)
    {
        ArgumentNullException.ThrowIfNull(failure);
        ArgumentNullException.ThrowIfNull(options);
        var path = Regex.Match(failure, $@"\b{Regex.Escape(section)}(\.\w+)+");
        if (!path.Success)
        {
            return failure;
        }

        object? value = options;
        foreach (var member in path.Value.Split('.').Skip(1))
        {
            value = value?.GetType().GetProperty(member)?.GetValue(value);
        }

        var setting = configurationPath ? path.Value.Replace('.', ':') : path.Value;
        var message = MemberPrefix().Replace(failure, string.Empty, 1)
            .Replace("The field " + path.Value, setting, StringComparison.Ordinal)
            .Replace(path.Value, setting, StringComparison.Ordinal)
            .TrimEnd('.');
        message = UnboundedAbove().Replace(message, m => m.Groups["exclusive"].Success ? $"must be more than {m.Groups["min"].Value}" : $"must be at least {m.Groups["min"].Value}");
        return $"{message} (was {Format(value)}).";
    }

    /// <summary>The parameter a failure that starts with its setting's path is about (the path's last part).</summary>
    public static string Setting(string failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var path = failure.Split(' ', 2)[0];
        return path[(path.LastIndexOfAny([':', '.']) + 1)..];
    }

    private static string Format(object? value) => value switch
    {
        null => "null",
        string s => $"'{s}'",
        IEnumerable items => "[" + string.Join(", ", items.Cast<object?>().Select(Format)) + "]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    /// <summary>A range whose maximum is its type's largest value: only a minimum.</summary>
    [GeneratedRegex(@"must be between (?<min>\S+)(?<exclusive> exclusive)? and (10675199\.02:48:05\.4775807|2147483647|9223372036854775807)$")]
    private static partial Regex UnboundedAbove();

    [GeneratedRegex(@"^[\w, ]+: ")]
    private static partial Regex MemberPrefix();
}
