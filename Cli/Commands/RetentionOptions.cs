using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Commands;

/// <summary>
/// <c>log create</c>'s retention options: <c>--retention-age</c>, a whole number with a unit (<c>ms</c>, <c>s</c>,
/// <c>m</c>, <c>h</c>, <c>d</c>), at least 1 s; <c>--retention-bytes</c>, a whole number of bytes with an optional
/// binary unit (<c>K</c>/<c>KiB</c>, <c>M</c>/<c>MiB</c>, <c>G</c>/<c>GiB</c>, <c>T</c>/<c>TiB</c>), at least 1 MiB.
/// Checked before connecting; the cluster checks the same bounds.
/// </summary>
internal static partial class RetentionOptions
{
    private const long MaxAgeMs = 100L * 365 * 86_400_000; // a hundred years

    public static Option<TimeSpan?> Age() => new("--retention-age")
    {
        Description = "Drop records older than this from every partition, whole batches at a time (default: keep forever): e.g. 90m, 36h, 7d; at least 1s",
        HelpName = "DURATION",
        CustomParser = ParseAge,
    };

    public static Option<long?> Bytes() => new("--retention-bytes")
    {
        Description = "Keep at most this many record bytes per partition, dropping the oldest batches (default: unlimited): e.g. 512MiB, 10GiB; at least 1MiB",
        HelpName = "SIZE",
        CustomParser = ParseBytes,
    };

    private static TimeSpan? ParseAge(ArgumentResult result)
    {
        if (result.Tokens is not [.., var last])
        {
            return null;
        }

        var match = AgePattern().Match(last.Value);
        if (match.Success && long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            var unitMs = match.Groups[2].Value.ToLowerInvariant() switch
            {
                "ms" => 1L,
                "s" => 1000L,
                "m" => 60_000L,
                "h" => 3_600_000L,
                _ => 86_400_000L,
            };
            if (amount <= MaxAgeMs / unitMs && amount * unitMs >= (long)LogSettings.MinRetentionAge.TotalMilliseconds)
            {
                return TimeSpan.FromMilliseconds(amount * unitMs);
            }
        }

        result.AddError($"--retention-age must be a duration of at least 1s and at most 36500d, such as 90m, 36h or 7d (was '{last.Value}').");
        return null;
    }

    private static long? ParseBytes(ArgumentResult result)
    {
        if (result.Tokens is not [.., var last])
        {
            return null;
        }

        var match = BytesPattern().Match(last.Value);
        if (match.Success && long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            var shift = match.Groups[2].Value.Length == 0 ? 0 : char.ToUpperInvariant(match.Groups[2].Value[0]) switch
            {
                'B' => 0,
                'K' => 10,
                'M' => 20,
                'G' => 30,
                _ => 40,
            };
            if (amount <= long.MaxValue >> shift && amount << shift >= LogSettings.MinRetentionBytes)
            {
                return amount << shift;
            }
        }

        result.AddError($"--retention-bytes must be a size of at least 1MiB, in bytes or with a unit such as 512MiB or 10GiB (was '{last.Value}').");
        return null;
    }

    [GeneratedRegex(@"^([0-9]{1,18})(ms|s|m|h|d)\z", RegexOptions.IgnoreCase)]
    private static partial Regex AgePattern();

    [GeneratedRegex(@"^([0-9]{1,19})(B|K|KiB|M|MiB|G|GiB|T|TiB)?\z", RegexOptions.IgnoreCase)]
    private static partial Regex BytesPattern();
}
