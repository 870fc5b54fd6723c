using System.Reflection;
using Pyralog.Grains.Hosting;

namespace Pyralog.Silo.Hosting;

/// <summary>The configuration keys the silo reads, found from its option classes, so a misspelt one can be refused.</summary>
internal static class SettingKeys
{
    /// <summary>Logging is configured by the .NET host under this section; any key below it is accepted.</summary>
    private const string LoggingSection = "Logging:";

    private static readonly HashSet<string> Known = new(StringComparer.OrdinalIgnoreCase);
    private static readonly List<string> DurationKeys = [];

    static SettingKeys()
    {
        Collect(SiloHostOptions.SectionName, typeof(SiloHostOptions));
        Collect(PyralogOptions.SectionName, typeof(PyralogOptions));
    }

    /// <summary>Keys whose values are durations (<see cref="TimeSpan"/>).</summary>
    public static IReadOnlyList<string> Durations => DurationKeys;

    public static bool IsKnown(string key) =>
        Known.Contains(key) || (key.StartsWith(LoggingSection, StringComparison.OrdinalIgnoreCase) && key.Length > LoggingSection.Length);

    private static void Collect(string prefix, Type type)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var key = $"{prefix}:{property.Name}";
            var valueType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (valueType == typeof(TimeSpan))
            {
                DurationKeys.Add(key);
                Known.Add(key);
            }
            else if (valueType.IsPrimitive || valueType.IsEnum || valueType == typeof(string))
            {
                Known.Add(key);
            }
            else
            {
                Collect(key, valueType);
            }
        }
    }
}
