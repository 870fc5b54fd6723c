using System.Globalization;
using System.Text.RegularExpressions;

namespace Pyralog.Grains.Hosting;

/// <summary>
/// Durations in settings: a number with a unit (<c>500ms</c>, <c>10s</c>, <c>2m</c>, <c>1h</c>) or <c>[d.]hh:mm:ss[.fff]</c>.
/// A bare number is refused: .NET would read <c>10</c> as ten days.
/// </summary>
public static partial class Duration
{
    public const string Format = "a number with a unit (500ms, 10s, 2m, 1h) or hh:mm:ss";

    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = default;
        var match = WithUnit().Match(text.Trim());
        if (match.Success)
        {
            var milliseconds = double.Parse(match.Groups["amount"].Value, CultureInfo.InvariantCulture) * match.Groups["unit"].Value switch
            {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                _ => 3_600_000,
            };
            if (milliseconds >= TimeSpan.MaxValue.TotalMilliseconds)
            {
                return false; // 999999999h is past what a TimeSpan holds
            }

            duration = TimeSpan.FromMilliseconds(milliseconds);
            return true;
        }

        return text.Contains(':') && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration);
    }

    [GeneratedRegex(@"^(?<amount>\d{1,9}(\.\d{1,9})?)(?<unit>ms|s|m|h)$")]
    private static partial Regex WithUnit();
}
