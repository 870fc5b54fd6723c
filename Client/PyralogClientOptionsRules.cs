using Microsoft.Extensions.Options;
using Pyralog.Grains.Interfaces;

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
                : Shared.RedisConnectionString.Problem(options.RedisConnectionString) is { } problem
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
}
