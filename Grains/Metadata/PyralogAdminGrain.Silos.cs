using Microsoft.Extensions.DependencyInjection;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Metadata;

/// <summary>The admin grain's silo operations: an operator's drain (see Replication.SiloMaintenance and Replication.ReplicaMover).</summary>
internal sealed partial class PyralogAdminGrain
{
    public async Task<SiloDrainResult> DrainSiloAsync(string silo, bool drain)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(silo);
        var target = FindActiveSilo(silo);
        var answer = await ServiceProvider.GetRequiredService<SiloReportClient>().For(target).SetDrainingAsync(drain);
        // The drain took effect: the count that follows is best-effort.
        return answer with { Replicas = await HomedReplicaCount.OnAsync(QueryAsync, target.Endpoint.ToString()) };
    }

    public async Task<string[]> DrainingSilosAsync() => (await DrainStatesAsync()).Draining;

    public async Task<SiloDrainStates> DrainStatesAsync()
    {
        var active = ServiceProvider.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress)
            .ToArray();
        var (draining, unanswered) = await ServiceProvider.GetRequiredService<SiloReportClient>().DrainStatesAmongAsync(active, StatusTimeout);
        return new SiloDrainStates([.. draining.Select(s => s.ToParsableString())], [.. unanswered.Select(s => s.ToParsableString())]);
    }

    /// <summary>
    /// The active silo <paramref name="silo"/> names: its full address (as <c>pyralog cluster status</c> prints it), its
    /// endpoint (<c>127.0.0.1:11111</c>) or its name; an <see cref="ArgumentException"/> naming the active silos otherwise.
    /// </summary>
    private SiloAddress FindActiveSilo(string silo)
    {
        var members = ServiceProvider.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .ToArray();
        var matches = members
            .Where(m => m.SiloAddress.ToParsableString() == silo || m.SiloAddress.Endpoint.ToString() == silo || m.Name == silo)
            .ToArray();
        return matches.Length switch
        {
            1 => matches[0].SiloAddress,
            0 => throw new ArgumentException(
                $"no active silo is '{silo}' (by address, endpoint or name); active: {string.Join(", ", members.Select(m => $"{m.SiloAddress.ToParsableString()} ({m.Name})"))}",
                nameof(silo)),
            _ => throw new ArgumentException($"'{silo}' names {matches.Length} active silos; give the full address", nameof(silo)),
        };
    }
}
