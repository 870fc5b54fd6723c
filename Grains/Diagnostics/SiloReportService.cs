using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Obelisk;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Diagnostics;

/// <summary>This silo's <see cref="ISiloReportService"/>: reads the store's statistics and the local obelisks and replicas.</summary>
[Reentrant]
internal sealed class SiloReportService(
    GrainId id, Silo host, ILoggerFactory loggers, SiloStore store, ObeliskActivations obelisks, LocalReplicas replicas, ILocalSiloDetails silo, IClusterMembershipService membership,
    SiloMaintenance maintenance)
    : GrainService(id, host, loggers), ISiloReportService
{
    public async Task<long> HeldIncarnationAsync(ulong log, int partition, int replica)
    {
        var (storeLog, deleted) = await ReplicaKv.FindAsync(store.Store, log, partition, replica).ConfigureAwait(true);
        return deleted ? 0 : await ReplicaStorage.ReadIncarnationAsync(store.Store, storeLog).ConfigureAwait(true);
    }

    public Task<SiloLeadership> GetLeadershipAsync()
    {
        var snapshot = membership.CurrentSnapshot;
        List<string> leaders = [], followers = [];
        foreach (var (key, _) in replicas.Active)
        {
            if (replicas.Leads(key))
            {
                leaders.Add(key);
            }
            else if (ReplicaGrainKey.TryParse(key, out var parsed) && replicas.LiveHomeElsewhere(parsed, snapshot) is null)
            {
                followers.Add(key);
            }
        }

        return Task.FromResult(new SiloLeadership([.. leaders], [.. followers], maintenance.Draining));
    }

    public Task<bool> IsDrainingAsync() => Task.FromResult(maintenance.Draining);

    public Task<int> MetadataVersionAsync() => Task.FromResult(Metadata.MetadataVersion.Latest);

    public Task<SiloDrainResult> SetDrainingAsync(bool draining) => maintenance.SetDrainingAsync(draining, CancellationToken.None);

    public Task<SiloReport> GetReportAsync()
    {
        var statistics = store.Store.GetStatistics();
        var levels = statistics.Levels;
        var levelBytes = new long[levels.Count];
        var levelSegments = new int[levels.Count];
        for (var i = 0; i < levels.Count; i++)
        {
            levelBytes[i] = levels[i].Bytes;
            levelSegments[i] = levels[i].Segments;
        }

        var replicaCount = 0;
        foreach (var _ in replicas.Active)
        {
            replicaCount++;
        }

        return Task.FromResult(new SiloReport(
            silo.SiloAddress.ToParsableString(),
            new StoreReport(
                statistics.Logs, statistics.MemtableBytes, statistics.BlockCacheBytes, statistics.UserBytesWritten, statistics.WalBytesWritten,
                statistics.FlushBytesWritten, statistics.CompactionBytesWritten, statistics.WriteAmplification, levelBytes, levelSegments,
                statistics.MappedSegments, statistics.MappedSegmentLimit),
            obelisks.Describe(),
            replicaCount));
    }
}
