namespace Pyralog.Grains.Replication;

/// <summary>
/// A loop that runs beside the silo's grains from the moment the silo is active until it stops (the replica wakeups and
/// homecoming): started in the Active lifecycle stage on a thread-pool task, cancelled and awaited when the silo stops.
/// </summary>
internal abstract class SiloWatch : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stop = new();
    private Task _watching = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(GetType().Name, ServiceLifecycleStage.Active, StartAsync, StopAsync);

    /// <summary>The loop; it ends when <paramref name="stopping"/> is cancelled.</summary>
    protected abstract Task WatchAsync(CancellationToken stopping);

    private Task StartAsync(CancellationToken cancellationToken)
    {
        _watching = Task.Run(() => WatchAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        await _watching.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
