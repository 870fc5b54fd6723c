namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// What <see cref="IPyralogAdminGrain.DrainSiloAsync"/> did: the silo (its full address), whether it is now draining,
/// how many of its replicas led when asked, how many still lead (0 once every leadership was handed over), and how many
/// partition replicas are still homed on it (a drained silo's replicas are moved to other silos one by one after the
/// call returns; <c>pyralog cluster status</c> shows them leave), or −1 when the drain took effect but the metadata
/// could not be read to count them.
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.SiloDrainResult")]
public sealed record SiloDrainResult(
    [property: Id(0)] string Silo,
    [property: Id(1)] bool Draining,
    [property: Id(2)] int Led,
    [property: Id(3)] int StillLeading,
    [property: Id(4)] int Replicas = 0);
