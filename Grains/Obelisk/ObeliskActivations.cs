using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Grains.Obelisk;

/// <summary>
/// The obelisk activations of this silo. On a graceful stop it deactivates them first — before the gateway tells
/// clients to go, before the silo announces it is shutting down and before Orleans deactivates every grain (the
/// in-memory lease storage's grains among them) — so each releases its lease while the storage it writes to still
/// runs and every other silo still accepts its grains. Releasing later raced the storage grains' own deactivation
/// and flooded the log with failed releases.
/// </summary>
internal sealed class ObeliskActivations(ILogger<ObeliskActivations> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>Runs its stop before everything Orleans stops at <see cref="ServiceLifecycleStage.Active"/> and below.</summary>
    public const int StopStage = ServiceLifecycleStage.Active + 1;

    private readonly ConcurrentDictionary<IGrainContext, int> _active = new();

    public void Add(IGrainContext activation, int obeliskId) => _active[activation] = obeliskId;

    public void Remove(IGrainContext activation) => _active.TryRemove(activation, out _);

    /// <summary>The status of every obelisk activation on this silo (a moment's view), by obelisk id.</summary>
    public ObeliskStatus[] Describe()
    {
        var statuses = new List<ObeliskStatus>();
        foreach (var (activation, _) in _active)
        {
            if (activation.GrainInstance is ObeliskGrain obelisk)
            {
                statuses.Add(obelisk.Describe());
            }
        }

        statuses.Sort((a, b) => a.ObeliskId.CompareTo(b.ObeliskId));
        return [.. statuses];
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ObeliskActivations), StopStage, _ => Task.CompletedTask, ReleaseAllAsync);

    private async Task ReleaseAllAsync(CancellationToken cancellationToken)
    {
        var activations = _active.Keys.ToArray();
        if (activations.Length == 0)
        {
            return;
        }

        var reason = new DeactivationReason(DeactivationReasonCode.ShuttingDown, "The silo is stopping: obelisks release their leases first.");
        var deactivated = new Task[activations.Length];
        for (var i = 0; i < activations.Length; i++)
        {
            activations[i].Deactivate(reason, cancellationToken);
            deactivated[i] = activations[i].Deactivated;
        }

        await Task.WhenAll(deactivated).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        logger.LogInformation("Deactivated {Count} local obelisks at the start of the stop", activations.Length);
    }
}
