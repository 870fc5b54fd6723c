using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Output;

/// <summary>How the CLI spells log settings and roles.</summary>
internal static class LogText
{
    public static string Durability(LogDurability durability) => durability switch
    {
        LogDurability.Fsync => "fsync",
        LogDurability.OsCache => "os-cache",
        _ => durability.ToString().ToLowerInvariant(),
    };

    public static bool TryParseDurability(string text, out LogDurability durability)
    {
        foreach (var candidate in Enum.GetValues<LogDurability>())
        {
            if (string.Equals(text, Durability(candidate), StringComparison.OrdinalIgnoreCase))
            {
                durability = candidate;
                return true;
            }
        }

        durability = LogDurability.Fsync;
        return false;
    }

    public static string Role(ReplicaRole role) => role switch
    {
        ReplicaRole.None => "none",
        _ => role.ToString().ToLowerInvariant(),
    };

    public static string State(LogState state) => state.ToString().ToLowerInvariant();

    public static string Plural(long count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}s";
}
