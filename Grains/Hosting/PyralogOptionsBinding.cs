using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Pyralog.Grains.Hosting;

/// <summary>
/// Binds <see cref="PyralogOptions"/> from a configuration section as the silo host reads its settings: durations take a
/// unit (<see cref="Duration"/>) or the clock form, and a bare number is refused naming its key, where .NET's binder
/// alone would refuse <c>10s</c> and read <c>10</c> as ten days.
/// </summary>
internal static class PyralogOptionsBinding
{
    public static void Bind(PyralogOptions options, IConfiguration section)
    {
        var durations = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var failures = new List<string>();
        var path = section is IConfigurationSection named ? named.Path : PyralogOptions.SectionName;
        foreach (var (key, type) in OptionKeys.Of(typeof(PyralogOptions)))
        {
            if (type != typeof(TimeSpan) || section[key] is not { } text)
            {
                continue;
            }

            if (Duration.TryParse(text, out var duration))
            {
                durations[key] = duration.ToString("c");
            }
            else
            {
                failures.Add($"{path}:{key} '{text}' is not a duration: give {Duration.Format}.");
            }
        }

        if (failures.Count > 0)
        {
            throw new OptionsValidationException(PyralogOptions.SectionName, typeof(PyralogOptions), failures);
        }

        new ConfigurationBuilder().AddConfiguration(section).AddInMemoryCollection(durations).Build().Bind(options);
    }
}
