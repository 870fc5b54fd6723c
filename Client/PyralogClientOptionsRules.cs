using Microsoft.Extensions.Options;
using Pyralog.Grains.Interfaces;
using StackExchange.Redis;

namespace Pyralog.Client;

/// <summary>
/// The rules of <see cref="PyralogClientOptions"/> that depend on the membership mode: gateway ports without Redis, a
/// connection string with it. <c>name</c> is the path failures are named under.
/// </summary>
internal sealed class PyralogClientOptionsRules : IValidateOptions<PyralogClientOptions>
{
    public ValidateOptionsResult Validate(string? name, PyralogClientOptions options)
    {
        if (options.Membership == MembershipMode.Redis)
        {
            return string.IsNullOrWhiteSpace(options.RedisConnectionString)
                ? ValidateOptionsResult.Fail($"{name}.RedisConnectionString must be set when Membership is 'redis' (was {(options.RedisConnectionString is { } value ? $"'{value}'" : "null")}).")
                : RedisProblem(options.RedisConnectionString) is { } problem
                    ? ValidateOptionsResult.Fail($"{name}.RedisConnectionString {problem}")
                    : ValidateOptionsResult.Success;
        }

        var ports = $"[{string.Join(", ", options.GatewayPorts)}]";
        if (options.GatewayPorts.Count == 0)
        {
            return ValidateOptionsResult.Fail($"{name}.GatewayPorts must name at least one gateway port (was {ports}).");
        }

        return options.GatewayPorts.Any(port => port is < 1 or > 65535)
            ? ValidateOptionsResult.Fail($"{name}.GatewayPorts must each be a port in 1..65535 (was {ports}).")
            : ValidateOptionsResult.Success;
    }

    /// <summary>
    /// Why StackExchange.Redis would refuse <paramref name="connectionString"/> (a misspelt or malformed option, no
    /// server), or null, in the silo's words (SiloHostOptionsRules): refused here, it is bad input before the client
    /// connects rather than a failure to reach Redis. The value itself is not repeated, since it may hold a password.
    /// </summary>
    private static string? RedisProblem(string connectionString)
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
}
