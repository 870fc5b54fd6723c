using Orleans.Services;

namespace Pyralog.Grains.Diagnostics;

/// <summary>Runs on every silo with Pyralog; answers what that silo holds (<see cref="SiloReportClient"/> reaches a given silo's).</summary>
public interface ISiloReportService : IGrainService
{
    Task<SiloReport> GetReportAsync();
}
