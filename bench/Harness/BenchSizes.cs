using System.Globalization;

namespace Pyralog.Bench.Harness;

/// <summary>Byte sizes given to the bench in environment variables.</summary>
internal static class BenchSizes
{
    /// <summary>Bytes, or a number with a K, M or G suffix (binary); <paramref name="fallback"/> when unset or not a positive size.</summary>
    public static long Parse(string? text, long fallback)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        text = text.Trim().TrimEnd('B', 'b', 'i');
        var shift = char.ToUpperInvariant(text[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, _ => 0 };
        var number = shift == 0 ? text : text[..^1];
        return long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0 ? value << shift : fallback;
    }
}
