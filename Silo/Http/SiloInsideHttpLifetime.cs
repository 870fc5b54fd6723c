using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Pyralog.Silo.Http;

/// <summary>
/// Runs the Orleans silo inside the HTTP endpoint's lifetime: the silo starts once every hosted service, the HTTP
/// server among them, has started (<see cref="IHostedLifecycleService.StartedAsync"/>), and stops before any of them
/// stops (<see cref="IHostedLifecycleService.StoppingAsync"/>); so do the Orleans dashboard's services, which call the silo. So <c>/health/live</c> answers during a long recovery
/// and <c>/health/ready</c> says "not ready" while the silo joins and while it drains, instead of the port being closed.
/// The web host registers its server last, which would otherwise start it after the silo and stop it first.
/// </summary>
internal sealed class SiloInsideHttpLifetime(IReadOnlyList<IHostedService> orleans) : IHostedLifecycleService
{
    /// <summary>
    /// Replaces Orleans' hosted services in <paramref name="services"/> (the silo, and the dashboard's, which calls
    /// the silo as it starts) by one wrapper that starts them in order and stops them in reverse.
    /// </summary>
    public static void Wrap(IServiceCollection services)
    {
        var wrapped = services
            .Where(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType?.Namespace?.StartsWith("Orleans", StringComparison.Ordinal) == true)
            .ToList();
        if (!wrapped.Any(d => d.ImplementationType!.FullName == "Orleans.Hosting.SiloHostedService"))
        {
            throw new InvalidOperationException("Orleans' silo hosted service is not registered: call UseOrleans first");
        }

        foreach (var descriptor in wrapped)
        {
            services.Remove(descriptor);
        }

        services.AddSingleton<IHostedService>(sp => new SiloInsideHttpLifetime(
            [.. wrapped.Select(d => (IHostedService)ActivatorUtilities.CreateInstance(sp, d.ImplementationType!))]));
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        foreach (var service in orleans)
        {
            await service.StartAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        for (var i = orleans.Count - 1; i >= 0; i--)
        {
            await orleans[i].StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
