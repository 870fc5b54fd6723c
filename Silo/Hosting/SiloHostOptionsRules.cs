using System.Net;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Interfaces;

namespace Pyralog.Silo.Hosting;

/// <summary>
/// The checks of <see cref="SiloHostOptions"/> annotations cannot express: addresses that parse, ports that differ,
/// settings the membership mode needs and a Redis connection string StackExchange.Redis accepts. <c>name</c> is the
/// section failures are named under (<c>Silo</c>); each failure starts with the key it is about.
/// </summary>
internal sealed class SiloHostOptionsRules : IValidateOptions<SiloHostOptions>
{
    public ValidateOptionsResult Validate(string? name, SiloHostOptions options)
    {
        var section = string.IsNullOrEmpty(name) ? SiloHostOptions.SectionName : name;
        var builder = new ValidateOptionsResultBuilder();
        if (!IPAddress.TryParse(options.Address, out var address))
        {
            builder.AddError($"{section}:Address '{options.Address}' is not an IP address.");
        }
        else if (address.Equals(IPAddress.IPv6Any))
        {
            // Orleans cannot advertise "any", and the silo picks an address to advertise only for 0.0.0.0.
            builder.AddError($"{section}:Address '{options.Address}' (every IPv6 interface) is not supported: use 0.0.0.0 to listen on every interface, or the address to advertise.");
        }

        if (options.SiloPort == options.GatewayPort)
        {
            builder.AddError($"{section}:SiloPort and {section}:GatewayPort must differ (both are {options.SiloPort}).");
        }

        if (!IPAddress.TryParse(options.HttpAddress, out _))
        {
            builder.AddError($"{section}:HttpAddress '{options.HttpAddress}' is not an IP address.");
        }

        if (options.HttpPort == options.SiloPort || options.HttpPort == options.GatewayPort)
        {
            builder.AddError($"{section}:HttpPort must differ from {section}:SiloPort and {section}:GatewayPort (was {options.HttpPort}, which one of them uses).");
        }

        if (options.OtlpEndpoint is { } otlp && !(Uri.TryCreate(otlp, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            builder.AddError($"{section}:OtlpEndpoint '{otlp}' is not an http:// or https:// address.");
        }

        if (options.Membership == MembershipMode.Development && options.PrimarySiloPort is < 1 or > 65535)
        {
            builder.AddError($"{section}:PrimarySiloPort must be a port in 1..65535 in development membership (was {options.PrimarySiloPort}).");
        }

        if (options.Membership == MembershipMode.Redis && string.IsNullOrWhiteSpace(options.RedisConnectionString))
        {
            builder.AddError($"{section}:RedisConnectionString must be set when {section}:Membership is 'redis' (was {(options.RedisConnectionString is { } value ? $"'{value}'" : "null")}).");
        }
        else if (!string.IsNullOrWhiteSpace(options.RedisConnectionString) && Shared.RedisConnectionString.Problem(options.RedisConnectionString) is { } problem)
        {
            builder.AddError($"{section}:RedisConnectionString {problem}");
        }

        return builder.Build();
    }
}
