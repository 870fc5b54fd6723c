using Pyralog.Silo.Startup;

namespace Pyralog.Silo.Hosting;

/// <summary>
/// Reads the silo's command line strictly: the switches of <see cref="PyralogSiloHost.Switches"/> and configuration keys
/// (<c>--Pyralog:Obelisk:LeaseDuration 10s</c> or <c>Pyralog:Obelisk:LeaseDuration=10s</c>), each as <c>--name value</c>
/// or <c>--name=value</c>. Anything else is refused rather than ignored: a misspelt <c>--silo-prot</c> must not start a
/// silo on the default port.
/// </summary>
internal static class SiloCommandLine
{
    /// <summary>The configuration keys and values the arguments set.</summary>
    /// <exception cref="StartupRefusedException">An unknown switch, a stray word or a switch without its value.</exception>
    public static Dictionary<string, string?> Parse(IReadOnlyList<string> args)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            var equals = arg.IndexOf('=');
            var name = equals < 0 ? arg : arg[..equals];
            if (!arg.StartsWith('-'))
            {
                if (equals < 0 || !SettingKeys.IsKnown(name))
                {
                    throw Refuse(equals < 0
                        ? $"unexpected argument '{arg}'; switches take the form --name value (see --help)."
                        : $"unknown setting '{name}' (see --help).");
                }

                settings[name] = arg[(equals + 1)..];
                continue;
            }

            var key = PyralogSiloHost.Switches.TryGetValue(name, out var mapped) ? mapped
                : name.StartsWith("--", StringComparison.Ordinal) && SettingKeys.IsKnown(name[2..]) ? name[2..]
                : throw Refuse($"unknown switch '{name}'{Suggestion(name)} (see --help).");
            if (equals >= 0)
            {
                settings[key] = arg[(equals + 1)..];
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                settings[key] = args[++i];
            }
            else
            {
                throw Refuse($"{name} needs a value.");
            }
        }

        return settings;
    }

    private static StartupRefusedException Refuse(string message) => new(ExitCodes.BadInput, message);

    /// <summary>" (did you mean --silo-port?)" for a switch at most two edits from a known one.</summary>
    private static string Suggestion(string name) =>
        Closest(PyralogSiloHost.Switches.Keys, name, ignoreCase: false) is { } closest ? $" (did you mean {closest}?)" : "";

    /// <summary>The first of <paramref name="known"/> fewest edits from <paramref name="name"/>, if at most two (a letter missing, two swapped), or null.</summary>
    internal static string? Closest(IEnumerable<string> known, string name, bool ignoreCase)
    {
        var wanted = ignoreCase ? name.ToLowerInvariant() : name;
        string? closest = null;
        var fewest = int.MaxValue;
        foreach (var candidate in known)
        {
            var edits = EditDistance(ignoreCase ? candidate.ToLowerInvariant() : candidate, wanted);
            if (edits < fewest)
            {
                (closest, fewest) = (candidate, edits);
            }
        }

        return fewest <= 2 ? closest : null;
    }

    /// <summary>Levenshtein distance: a swapped pair of letters (prot/port) counts two.</summary>
    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            previous = current;
        }

        return previous[b.Length];
    }
}
