using Pyralog.Grains.Hosting;

namespace Pyralog.Silo.Hosting;

/// <summary>The configuration keys the silo reads, found from its option classes, so a misspelt one can be refused.</summary>
internal static class SettingKeys
{
    /// <summary>Logging is configured by the .NET host under this section; any key below it is accepted.</summary>
    private const string LoggingSection = "Logging:";

    private static readonly Dictionary<string, Type> Known = new(StringComparer.OrdinalIgnoreCase);

    static SettingKeys()
    {
        Collect(SiloHostOptions.SectionName, typeof(SiloHostOptions));
        Collect(PyralogOptions.SectionName, typeof(PyralogOptions));
    }

    /// <summary>Every key with the type of its value (<see cref="TimeSpan"/> for a duration).</summary>
    public static IReadOnlyDictionary<string, Type> Types => Known;

    public static bool IsKnown(string key) =>
        Known.ContainsKey(key) || (key.StartsWith(LoggingSection, StringComparison.OrdinalIgnoreCase) && key.Length > LoggingSection.Length);

    /// <summary>The known key at most two edits from <paramref name="key"/> (a letter missing, two swapped), or null.</summary>
    public static string? Closest(string key) => SiloCommandLine.Closest(Known.Keys, key, ignoreCase: true);

    private static void Collect(string prefix, Type type)
    {
        foreach (var (key, valueType) in OptionKeys.Of(type, prefix))
        {
            Known.Add(key, valueType);
        }
    }
}
