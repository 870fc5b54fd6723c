using Orleans.Runtime.Services;

namespace Pyralog.Grains.Diagnostics;

/// <summary>Reaches the <see cref="ISiloReportService"/> of a given silo.</summary>
public sealed class SiloReportClient(IServiceProvider services) : GrainServiceClient<ISiloReportService>(services)
{
    public ISiloReportService For(SiloAddress silo) => GetGrainService(silo);
}
