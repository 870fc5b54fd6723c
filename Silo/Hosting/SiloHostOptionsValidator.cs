using System.Net;
using Pyralog.Grains.Interfaces;

namespace Pyralog.Silo.Hosting;

/// <summary>Checks <see cref="SiloHostOptions"/> before the silo starts and names every value that is wrong.</summary>
public static class SiloHostOptionsValidator
{
    public static IReadOnlyList<string> Validate(SiloHostOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ClusterId))
        {
            failures.Add("Silo:ClusterId (--cluster-id) must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(options.ServiceId))
        {
            failures.Add("Silo:ServiceId (--service-id) must not be empty.");
        }

        if (!IPAddress.TryParse(options.Address, out _))
        {
            failures.Add($"Silo:Address (--address) '{options.Address}' is not an IP address.");
        }

        CheckPort(failures, "Silo:SiloPort (--silo-port)", options.SiloPort);
        CheckPort(failures, "Silo:GatewayPort (--gateway-port)", options.GatewayPort);
        if (options.SiloPort == options.GatewayPort)
        {
            failures.Add($"Silo:SiloPort and Silo:GatewayPort must differ (both are {options.SiloPort}).");
        }

        if (!IPAddress.TryParse(options.HttpAddress, out _))
        {
            failures.Add($"Silo:HttpAddress (--http-address) '{options.HttpAddress}' is not an IP address.");
        }

        CheckPort(failures, "Silo:HttpPort (--http-port)", options.HttpPort);
        if (options.HttpPort == options.SiloPort || options.HttpPort == options.GatewayPort)
        {
            failures.Add($"Silo:HttpPort (--http-port) must differ from Silo:SiloPort and Silo:GatewayPort (was {options.HttpPort}, which one of them uses).");
        }

        if (options.OtlpEndpoint is { } otlp && !(Uri.TryCreate(otlp, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            failures.Add($"Silo:OtlpEndpoint '{otlp}' is not an http:// or https:// address.");
        }

        if (options.Membership == MembershipMode.Development)
        {
            CheckPort(failures, "Silo:PrimarySiloPort (--primary-port)", options.PrimarySiloPort);
        }

        if (options.Membership == MembershipMode.Redis && string.IsNullOrWhiteSpace(options.RedisConnectionString))
        {
            failures.Add("Silo:Membership is 'redis' but Silo:RedisConnectionString (--redis) is not set.");
        }

        // Below 100 ms a busy machine's GC pause or scheduling delay would get healthy silos declared dead.
        if (options.ProbeTimeout is { } probe && (probe < TimeSpan.FromMilliseconds(100) || probe > TimeSpan.FromMinutes(5)))
        {
            failures.Add($"Silo:ProbeTimeout must be between 100ms and 5m (was {probe}).");
        }

        if (options.MissedProbesLimit is { } missed && missed is < 1 or > 10)
        {
            failures.Add($"Silo:MissedProbesLimit must be in 1..10 (was {missed}).");
        }

        return failures;
    }

    private static void CheckPort(List<string> failures, string name, int port)
    {
        if (port is < 1 or > 65535)
        {
            failures.Add($"{name} must be a port in 1..65535 (was {port}).");
        }
    }
}
