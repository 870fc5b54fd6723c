using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Grains.Diagnostics;

/// <summary>One silo as its own services see it: its store, its obelisk activations, its replicas. For dashboards.</summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.SiloReport")]
public sealed record SiloReport(
    [property: Id(0)] string Silo,
    [property: Id(1)] StoreReport Store,
    [property: Id(2)] ObeliskStatus[] Obelisks,
    [property: Id(3)] int Replicas);
