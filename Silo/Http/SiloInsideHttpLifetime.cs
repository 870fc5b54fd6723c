using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Pyralog.Silo.Http;

/// <summary>
/// Runs the Orleans silo inside the HTTP endpoint's lifetime: the silo starts once every hosted service, the HTTP
/// server among them, has started (<see cref="IHostedLifecycleService.StartedAsync"/>), and stops before any of them
/// stops (<see cref="IHostedLifecycleService.StoppingAsync"/>); so do the other hosted services <c>UseOrleans</c>
/// registers (the Orleans dashboard's, which calls the silo's grains as it starts). So <c>/health/live</c> answers
/// during a long recovery and <c>/health/ready</c> says "not ready" while the silo joins and while it drains, instead of
/// the port being closed. The web host registers its server last, which would otherwise start it after the silo and
/// stop it first.
/// </summary>
internal sealed class SiloInsideHttpLifetime(IReadOnlyList<(IHostedService Service, bool Owned)> orleans) : IHostedLifecycleService, IAsyncDisposable
{
    /// <summary>
    /// Replaces the hosted services registered from <paramref name="firstOrleansDescriptor"/> on (those of
    /// <c>UseOrleans</c>: the silo's, and the dashboard's, which Orleans registers through a factory) by one wrapper
    /// that starts them in order and stops them in reverse.
    /// </summary>
    public static void Wrap(IServiceCollection services, int firstOrleansDescriptor)
    {
        var wrapped = services.Skip(firstOrleansDescriptor).Where(d => d.ServiceType == typeof(IHostedService) && !d.IsKeyedService).ToList();
        if (!wrapped.Any(d => d.ImplementationType?.FullName == "Orleans.Hosting.SiloHostedService"))
        {
            throw new InvalidOperationException("Orleans' silo hosted service is not registered: call UseOrleans first");
        }

        foreach (var descriptor in wrapped)
        {
            services.Remove(descriptor);
        }

        services.AddSingleton<IHostedService>(sp => new SiloInsideHttpLifetime([.. wrapped.Select(d => Create(sp, d))]));
    }

    /// <summary>
    /// The service a descriptor stands for, and whether this wrapper made it (and so disposes it: the container does
    /// not know it). What a factory returns is the container's (Orleans' factories hand out a registered singleton).
    /// </summary>
    private static (IHostedService, bool) Create(IServiceProvider services, ServiceDescriptor descriptor) => descriptor switch
    {
        { ImplementationInstance: IHostedService instance } => (instance, false),
        { ImplementationFactory: { } factory } => ((IHostedService)factory(services), false),
        _ => ((IHostedService)ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!), true),
    };

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        foreach (var (service, _) in orleans)
        {
            await service.StartAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        for (var i = orleans.Count - 1; i >= 0; i--)
        {
            await orleans[i].Service.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        for (var i = orleans.Count - 1; i >= 0; i--)
        {
            switch (orleans[i])
            {
                case { Owned: true, Service: IAsyncDisposable disposable }:
                    await disposable.DisposeAsync().ConfigureAwait(false);
                    break;
                case { Owned: true, Service: IDisposable disposable }:
                    disposable.Dispose();
                    break;
            }
        }
    }
}
