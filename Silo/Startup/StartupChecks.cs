using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces;
using Pyralog.Silo.Hosting;
using StackExchange.Redis;

namespace Pyralog.Silo.Startup;

/// <summary>What the silo checks after reading its settings and before Orleans starts.</summary>
internal static class StartupChecks
{
    /// <summary>
    /// Validates the options, locks the data directory (after checking it is writable), checks the silo, gateway and HTTP ports are free and,
    /// in <c>redis</c> membership, that Redis answers. Returns the data directory lock, to hold until the silo exits.
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting is wrong.</exception>
    /// <exception cref="StartupRefusedException">The silo must not start; the message says why.</exception>
    /// <exception cref="OperationCanceledException">A stop was asked for (<paramref name="stopping"/>).</exception>
    public static async Task<IDisposable> RunAsync(IServiceProvider services, CancellationToken stopping)
    {
        var host = services.GetRequiredService<SiloHostOptions>();
        var pyralog = services.GetRequiredService<IOptions<PyralogOptions>>().Value;
        var dataLock = DataDirectoryLock.Acquire(Path.GetFullPath(pyralog.DataDirectory));
        try
        {
            var address = IPAddress.Parse(host.Address);
            PortCheck.EnsureFree(address, "--address", host.SiloPort, "silo port", "--silo-port");
            PortCheck.EnsureFree(address, "--address", host.GatewayPort, "gateway port", "--gateway-port");
            PortCheck.EnsureFree(IPAddress.Parse(host.HttpAddress), "--http-address", host.HttpPort, "HTTP port", "--http-port");
            if (host.Membership == MembershipMode.Redis)
            {
                await ClusterStoreProbe.EnsureReachableAsync(ConfigurationOptions.Parse(host.RedisConnectionString!), stopping).ConfigureAwait(false);
            }

            return dataLock;
        }
        catch
        {
            dataLock.Dispose();
            throw;
        }
    }
}
