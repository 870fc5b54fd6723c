using Orleans.Services;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Diagnostics;

/// <summary>Runs on every silo with Pyralog; answers what that silo holds (<see cref="SiloReportClient"/> reaches a given silo's).</summary>
public interface ISiloReportService : IGrainService
{
    Task<SiloReport> GetReportAsync();

    /// <summary>
    /// The incarnation of replica <paramref name="replica"/> of a partition (or of the metadata group, log 0) whose state
    /// this silo's store holds; 0 when it holds none.
    /// </summary>
    Task<long> HeldIncarnationAsync(ulong log, int partition, int replica);

    /// <summary>Which replicas active on this silo lead their group, and which follow at home (leader balancing).</summary>
    Task<SiloLeadership> GetLeadershipAsync();

    /// <summary>The highest metadata version this silo's build applies (a silo of a build before versions has no such method: version 1).</summary>
    Task<int> MetadataVersionAsync();

    /// <summary>Whether an operator drains this silo (see <see cref="Replication.SiloMaintenance"/>).</summary>
    Task<bool> IsDrainingAsync();

    /// <summary>Starts (handing off every leadership here) or ends an operator's drain of this silo (see <see cref="Replication.SiloMaintenance"/>).</summary>
    [ResponseTimeout("00:10:30")] // waits out the drain timeout (up to 10 min; IPyralogAdminGrain.DrainSiloAsync waits for this)
    Task<SiloDrainResult> SetDrainingAsync(bool draining);
}
