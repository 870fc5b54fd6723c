using Microsoft.Extensions.DependencyInjection;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Silo.Http;

/// <summary>
/// What Pyralog's page shows, read fresh for each request: the silos in membership, every log with its partitions
/// (leader silo, epoch, offsets, replicas with role and lag) and this silo's store. The page computes rates from
/// successive offsets itself.
/// </summary>
internal sealed class ClusterOverview(IGrainFactory grains, SiloStore store, IServiceProvider services, TimeProvider time)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<object> ReadAsync(CancellationToken cancellationToken)
    {
        var management = grains.GetGrain<IManagementGrain>(0);
        var hosts = await management.GetHosts(onlyActive: false).WaitAsync(Timeout, time, cancellationToken).ConfigureAwait(false);
        var self = services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
        var silos = hosts
            .OrderBy(h => h.Key.ToParsableString(), StringComparer.Ordinal)
            .Select(h => new { address = h.Key.ToParsableString(), endpoint = h.Key.Endpoint.ToString(), status = h.Value.ToString(), self = h.Key.Equals(self) })
            .ToList();

        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var logs = new List<object>();
        foreach (var log in await admin.ListLogsAsync().WaitAsync(Timeout, time, cancellationToken).ConfigureAwait(false))
        {
            if (log.State != LogState.Active)
            {
                logs.Add(new { name = log.Name, id = log.Id, state = log.State.ToString(), partitions = Array.Empty<object>() });
                continue;
            }

            var description = await admin.DescribeLogAsync(log.Name).WaitAsync(Timeout, time, cancellationToken).ConfigureAwait(false);
            logs.Add(new
            {
                name = log.Name,
                id = log.Id,
                state = log.State.ToString(),
                replicationFactor = log.ReplicationFactor,
                durability = log.Settings.Durability.ToString(),
                partitions = description.Partitions.Select(p => new
                {
                    partition = p.Partition,
                    leaderSilo = p.LeaderSilo,
                    epoch = p.Epoch,
                    firstOffset = p.FirstOffset,
                    committedNext = p.CommittedNext,
                    sharedSilos = p.SharedSilos,
                    replicas = p.Replicas.Select(r => new { replica = r.Replica, silo = r.Silo, role = r.Role.ToString(), lag = r.Lag, nextOffset = r.NextOffset, error = r.Error }),
                }),
            });
        }

        var statistics = store.Store.GetStatistics();
        return new
        {
            time = time.GetUtcNow(),
            silo = self.ToParsableString(),
            silos,
            logs,
            storage = new
            {
                logs = statistics.Logs,
                memtableBytes = statistics.MemtableBytes,
                blockCacheBytes = statistics.BlockCacheBytes,
                writeAmplification = statistics.WriteAmplification,
                walBytes = statistics.WalBytesWritten,
                flushBytes = statistics.FlushBytesWritten,
                compactionBytes = statistics.CompactionBytesWritten,
                levels = statistics.Levels.Select(l => new { level = l.Level, segments = l.Segments, bytes = l.Bytes }),
            },
        };
    }
}
