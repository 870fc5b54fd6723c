using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Testing;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>A grain factory reaching only the two grains the cluster status reads: the management grain and the admin grain.</summary>
public sealed class StatusGrainFactory(IManagementGrain management, IPyralogAdminGrain admin) : ScriptedGrainFactory
{
    public override TGrainInterface GetGrain<TGrainInterface>(long primaryKey, string? grainClassNamePrefix = null) =>
        typeof(TGrainInterface) == typeof(IManagementGrain) ? (TGrainInterface)management
        : typeof(TGrainInterface) == typeof(IPyralogAdminGrain) ? (TGrainInterface)admin
        : base.GetGrain<TGrainInterface>(primaryKey, grainClassNamePrefix);
}
