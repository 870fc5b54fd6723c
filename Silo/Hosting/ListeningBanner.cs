using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Hosting;

namespace Pyralog.Silo.Hosting;

/// <summary>Prints, once the silo is up, what it listens on and where its data lives.</summary>
internal sealed class ListeningBanner(SiloHostOptions host, IOptions<PyralogOptions> pyralog, IHostApplicationLifetime lifetime) : IHostedService
{
    /// <summary>The line a silo prints once it stopped.</summary>
    public const string StoppedLine = "Pyralog silo stopped.";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() => Console.WriteLine(
            $"Pyralog silo up: silo {host.Address}:{host.SiloPort}, gateway {host.Address}:{host.GatewayPort}, " +
            $"http http://{host.HttpAddress}:{host.HttpPort} ({(host.Metrics ? "/metrics, " : "")}/health/ready{(host.Dashboard ? ", /pyralog, /dashboard" : "")}), " +
            $"membership {host.Membership.ToString().ToLowerInvariant()}, cluster '{host.ClusterId}', " +
            $"data {Path.GetFullPath(pyralog.Value.DataDirectory)}"));
        lifetime.ApplicationStopped.Register(() => Console.WriteLine(StoppedLine));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
