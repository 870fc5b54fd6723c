using System.Reflection;

namespace Pyralog.Grains.Hosting;

/// <summary>The configuration keys of an option class and its nested option classes, with the type of each value.</summary>
public static class OptionKeys
{
    /// <summary>
    /// Every settable key below <paramref name="prefix"/> (<c>Pyralog:Obelisk:LeaseDuration</c>; without a prefix,
    /// <c>Obelisk:LeaseDuration</c>) with its value's type (<see cref="TimeSpan"/> for a duration, the enum for a choice).
    /// </summary>
    public static IEnumerable<(string Key, Type Type)> Of(Type options, string? prefix = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (var property in options.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (!property.CanWrite)
            {
                continue;
            }

            var key = prefix is null ? property.Name : $"{prefix}:{property.Name}";
            var valueType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (valueType.IsClass && valueType != typeof(string))
            {
                foreach (var nested in Of(valueType, key))
                {
                    yield return nested;
                }
            }
            else
            {
                yield return (key, valueType);
            }
        }
    }
}
