using System.Net;
using StackExchange.Redis;

namespace Pyralog.Shared;

/// <summary>
/// A StackExchange.Redis connection string as the silo and the client check and name it: one source file compiled into
/// both (they share no assembly that references StackExchange.Redis), so a value the silo refuses the client refuses in
/// the same words.
/// </summary>
internal static class RedisConnectionString
{
    /// <summary>
    /// Why StackExchange.Redis would refuse <paramref name="connectionString"/> (a misspelt or malformed option, no
    /// server), or null. It refuses by throwing <see cref="ArgumentException"/> where the silo or client is built or first
    /// connects; the value itself is not repeated, since it may hold a password.
    /// </summary>
    public static string? Problem(string connectionString)
    {
        ConfigurationOptions parsed;
        try
        {
            parsed = ConfigurationOptions.Parse(connectionString);
        }
        catch (ArgumentException e)
        {
            // "Keyword 'pasword' is not supported.", without the " (Parameter 'pasword')" .NET appends.
            var reason = e.ParamName is { } parameter ? e.Message.Replace($" (Parameter '{parameter}')", "", StringComparison.Ordinal) : e.Message;
            return $"is not a StackExchange.Redis connection string: {reason.ReplaceLineEndings(" ")}";
        }

        return parsed.EndPoints.Count == 0
            ? "names no Redis server: give host:port first, e.g. '127.0.0.1:6379,password=...'."
            : null;
    }

    /// <summary>The endpoints as an operator wrote them: a host name's <see cref="DnsEndPoint"/> prints as "Unspecified/host:port" otherwise.</summary>
    public static string Endpoints(EndPointCollection endpoints) =>
        string.Join(", ", endpoints.Select(e => e is DnsEndPoint dns ? $"{dns.Host}:{dns.Port}" : e.ToString()));
}
