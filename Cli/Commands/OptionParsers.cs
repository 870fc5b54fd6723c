using System.CommandLine.Parsing;
using System.Globalization;

namespace Pyralog.Cli.Commands;

/// <summary>Option values parsed with messages that name the option, the accepted range and what was given.</summary>
internal static class OptionParsers
{
    public static int Integer(ArgumentResult result, string option, int min, int max, int fallback)
    {
        if (result.Tokens is not [.., var last])
        {
            return fallback;
        }

        if (!int.TryParse(last.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            result.AddError($"{option} must be a whole number in {min}..{max} (was '{last.Value}').");
        }

        return value;
    }

    public static double Seconds(ArgumentResult result, string option, double max, double fallback)
    {
        if (result.Tokens is not [.., var last])
        {
            return fallback;
        }

        if (!double.TryParse(last.Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) || !double.IsFinite(seconds) || seconds <= 0 || seconds > max)
        {
            result.AddError($"{option} must be a number of seconds in (0, {max}] (was '{last.Value}').");
        }

        return seconds;
    }

    public static int[] Ports(ArgumentResult result, string option, int[] fallback)
    {
        if (result.Tokens.Count == 0)
        {
            return fallback;
        }

        var ports = new int[result.Tokens.Count];
        for (var i = 0; i < ports.Length; i++)
        {
            var text = result.Tokens[i].Value;
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ports[i]) || ports[i] is < 1 or > 65535)
            {
                result.AddError($"{option} '{text}' is not a port in 1..65535.");
            }
        }

        return ports;
    }

    public static TEnum Choice<TEnum>(ArgumentResult result, string option, TEnum fallback)
        where TEnum : struct, Enum
    {
        if (result.Tokens is not [.., var last])
        {
            return fallback;
        }

        // By name only: Enum.Parse would also take a number.
        var name = Enum.GetNames<TEnum>().FirstOrDefault(n => string.Equals(n, last.Value, StringComparison.OrdinalIgnoreCase));
        if (name is null)
        {
            var names = Enum.GetNames<TEnum>().Select(n => n.ToLowerInvariant()).ToList();
            result.AddError($"{option} must be {string.Join(", ", names[..^1])} or {names[^1]} (was '{last.Value}').");
            return fallback;
        }

        return Enum.Parse<TEnum>(name);
    }
}
