using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;
using Pyralog.Silo.Hosting;
using Pyralog.Silo.Http;

namespace Pyralog.Silo.Tests.Http;

/// <summary>The wrapper that runs Orleans' hosted services inside the HTTP endpoint's lifetime, and the dashboard it hosts.</summary>
public sealed class SiloInsideHttpLifetimeTests
{
    [Fact]
    public async Task Disposing_the_wrapper_disposes_the_services_it_created_in_reverse_order_and_leaves_the_containers()
    {
        var disposed = new List<string>();
        var lifetime = new SiloInsideHttpLifetime([
            (new Disposable("silo", disposed), true), (new Plain(), true), (new Disposable("container's", disposed), false), (new AsyncAndDisposable("dashboard", disposed), true)]);
        await lifetime.StartedAsync(CancellationToken.None);
        await lifetime.StoppingAsync(CancellationToken.None);
        Assert.Empty(disposed); // stopping is not disposing

        await lifetime.DisposeAsync();
        Assert.Equal(["dashboard (async)", "silo"], disposed); // once each, asynchronously where it can be
    }

    [Fact]
    public void The_silo_host_registers_the_wrapper_so_the_container_disposes_it_and_every_Orleans_hosted_service_is_inside()
    {
        using var host = PyralogSiloHost.CreateBuilder([]).Build();
        var hosted = host.Services.GetServices<IHostedService>().ToList();
        Assert.Single(hosted.OfType<SiloInsideHttpLifetime>());
        // The dashboard's host too, which Orleans registers through a factory: started before the silo, it logged
        // failed calls to the silo's grains at every start.
        Assert.DoesNotContain(hosted, s => s.GetType().Namespace?.StartsWith("Orleans", StringComparison.Ordinal) == true);
    }

    [Fact]
    public void The_dashboards_log_stream_is_off_unless_asked_for()
    {
        using var defaults = PyralogSiloHost.CreateBuilder([]).Build();
        Assert.True(defaults.Services.GetRequiredService<IOptions<DashboardOptions>>().Value.HideTrace);
        using var traced = PyralogSiloHost.CreateBuilder(["--Silo:DashboardTrace", "true"]).Build();
        Assert.False(traced.Services.GetRequiredService<IOptions<DashboardOptions>>().Value.HideTrace);
    }

    private sealed class Disposable(string name, List<string> disposed) : IHostedService, IDisposable
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void Dispose() => disposed.Add(name);
    }

    private sealed class AsyncAndDisposable(string name, List<string> disposed) : IHostedService, IDisposable, IAsyncDisposable
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void Dispose() => disposed.Add($"{name} (sync)");

        public ValueTask DisposeAsync()
        {
            disposed.Add($"{name} (async)");
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Plain : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
