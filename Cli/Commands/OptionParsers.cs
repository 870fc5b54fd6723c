using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;
using Pyralog.Cli.Logs;
using Pyralog.Cli.Output;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Commands;

/// <summary>Option values parsed with messages that name the option, the accepted range and what was given.</summary>
internal static partial class OptionParsers
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

    /// <summary>A log name as the metadata group accepts it: 1..200 letters, digits, '.', '_' and '-'.</summary>
    public static string LogName(ArgumentResult result)
    {
        var text = result.Tokens is [.., var last] ? last.Value : "";
        if (text.Length is 0 or > 200 || !LogNamePattern().IsMatch(text))
        {
            result.AddError($"'{text}' is not a log name: expected 1..200 letters, digits, '.', '_' or '-'.");
        }

        return text;
    }

    public static LogDurability Durability(ArgumentResult result, string option)
    {
        if (result.Tokens is not [.., var last])
        {
            return LogDurability.Fsync;
        }

        if (LogText.TryParseDurability(last.Value, out var durability))
        {
            return durability;
        }

        result.AddError($"{option} must be fsync or os-cache (was '{last.Value}').");
        return LogDurability.Fsync;
    }

    /// <summary>
    /// A StackExchange.Redis connection string, checked as the client will parse it, so a malformed one or one naming no
    /// server is bad input (exit 2) for every command and not a failure of the connection. The message leaves the value
    /// out: it may hold a password.
    /// </summary>
    public static string? RedisConnectionString(ArgumentResult result, string option)
    {
        if (result.Tokens is not [.., var last])
        {
            return null;
        }

        try
        {
            // Parsed without a server it connects nowhere (the silo refuses it too): bad input, not an unreachable Redis.
            if (StackExchange.Redis.ConfigurationOptions.Parse(last.Value).EndPoints.Count == 0)
            {
                result.AddError($"{option} names no Redis server: give host:port first (such as 127.0.0.1:6379 or redis.example:6379,password=…).");
            }
        }
        catch (ArgumentException e)
        {
            var reason = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
            result.AddError($"{option} is not a Redis connection string (such as 127.0.0.1:6379 or redis.example:6379,password=…): {reason}");
        }

        return last.Value;
    }

    /// <summary><c>earliest</c>, <c>latest</c>, an offset (unsigned decimal) or an ISO-8601 time (UTC when it names no offset).</summary>
    public static ConsumeStart From(ArgumentResult result, string option)
    {
        if (result.Tokens is not [.., var last])
        {
            return ConsumeStart.Earliest;
        }

        var text = last.Value;
        if (string.Equals(text, "earliest", StringComparison.OrdinalIgnoreCase))
        {
            return ConsumeStart.Earliest;
        }

        if (string.Equals(text, "latest", StringComparison.OrdinalIgnoreCase))
        {
            return ConsumeStart.Latest;
        }

        if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
        {
            return ConsumeStart.At(offset);
        }

        if (IsoTimePattern().IsMatch(text)
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
        {
            return ConsumeStart.After(time);
        }

        result.AddError($"{option} must be earliest, latest, an offset or an ISO-8601 time such as 2026-11-30T18:00:00Z (was '{text}').");
        return ConsumeStart.Earliest;
    }

    [GeneratedRegex(@"^[A-Za-z0-9._-]+\z")] // \z: "$" also matches before a final newline
    private static partial Regex LogNamePattern();

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})?)?\z", RegexOptions.IgnoreCase)]
    private static partial Regex IsoTimePattern();
}
