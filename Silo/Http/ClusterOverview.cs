using Microsoft.Extensions.DependencyInjection;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Silo.Http;

/// <summary>
/// What Pyralog's page shows, read fresh for each request: the silos in membership, every log with its partitions
/// (leader silo, epoch, offsets, replicas with role and lag) and each active silo's report (store, obelisks). The page computes rates from
/// successive offsets itself.
/// </summary>
internal sealed class ClusterOverview(IGrainFactory grains, SiloReportClient siloReports, IServiceProvider services, TimeProvider time)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<object> ReadAsync(CancellationToken cancellationToken)
    {
        var management = grains.GetGrain<IManagementGrain>(0);
        var hosts = await management.GetHosts(onlyActive: false).WaitAsync(Timeout, time, cancellationToken).ConfigureAwait(false);
        var self = services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
        var (logs, partitions) = await DescribeLogsAsync(grains.GetGrain<IPyralogAdminGrain>(0), time, cancellationToken).ConfigureAwait(false);

        // Each active silo's own report (store, obelisks), asked in parallel; a silo that does not answer is named.
        var reports = new List<object>();
        var asked = hosts.Where(h => h.Value == SiloStatus.Active).Select(h => h.Key).OrderBy(a => a.ToParsableString(), StringComparer.Ordinal).ToList();
        var answers = asked.Select(a => siloReports.For(a).GetReportAsync().WaitAsync(Timeout, time, cancellationToken)).ToList();
        for (var i = 0; i < asked.Count; i++)
        {
            try
            {
                reports.Add(await answers[i].ConfigureAwait(false));
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                reports.Add(new { silo = asked[i].ToParsableString(), error = e.Message });
            }
        }

        return new { time = time.GetUtcNow(), silo = self.ToParsableString(), silos = Silos(hosts, self, partitions), logs, reports };
    }

    /// <summary>
    /// Every log with its partitions. The active logs are described at once under one deadline (all start together, each
    /// waits <see cref="Timeout"/>), so the page's refresh takes the slowest log, not the sum. A log whose description
    /// times out or fails (a metadata election, a hung silo, a huge log) is listed with its error and no partitions, so
    /// the rest of the cluster is still shown; one deleted since the listing is left out.
    /// </summary>
    internal static async Task<(List<object> Logs, List<PartitionDescription> Partitions)> DescribeLogsAsync(
        IPyralogAdminGrain admin, TimeProvider time, CancellationToken cancellationToken)
    {
        var listed = await admin.ListLogsAsync().WaitAsync(Timeout, time, cancellationToken).ConfigureAwait(false);
        var describing = new Task<LogDescription>?[listed.Length];
        for (var i = 0; i < listed.Length; i++)
        {
            if (listed[i].State == LogState.Active)
            {
                describing[i] = DescribeAsync(admin, listed[i].Name).WaitAsync(Timeout, time, cancellationToken);
            }
        }

        var logs = new List<object>();
        var partitions = new List<PartitionDescription>();
        for (var i = 0; i < listed.Length; i++)
        {
            var log = listed[i];
            if (describing[i] is not { } answer)
            {
                logs.Add(new { name = log.Name, id = log.Id, state = log.State.ToString(), partitions = Array.Empty<object>() });
                continue;
            }

            LogDescription description;
            try
            {
                description = await answer.ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
                continue; // deleted since the listing: the rest of the cluster is still shown
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                logs.Add(new { name = log.Name, id = log.Id, state = log.State.ToString(), error = e.Message, partitions = Array.Empty<object>() });
                continue;
            }

            partitions.AddRange(description.Partitions);
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
                    // With no leader answering, the admin grain reports 0: sent as 0, the page showed offsets going back
                    // and a negative rate, then a burst when the leader answered again.
                    committedNext = p.LeaderSilo is null ? null : (ulong?)p.CommittedNext,
                    sharedSilos = p.SharedSilos,
                    replicas = p.Replicas.Select(r => new { replica = r.Replica, silo = r.Silo, role = r.Role.ToString(), lag = r.Lag, nextOffset = r.NextOffset, error = r.Error }),
                }),
            });
        }

        return (logs, partitions);
    }

    // Any failure, also one thrown before the grain call returns its task, reaches the caller through the task.
    private static async Task<LogDescription> DescribeAsync(IPyralogAdminGrain admin, string log) =>
        await admin.DescribeLogAsync(log).ConfigureAwait(false);

    /// <summary>
    /// Every silo in membership with the partition replicas and leaders it runs, matched by its address with generation:
    /// a silo restarted on the same endpoint is a new silo, and the Dead entry of the one before it runs nothing.
    /// </summary>
    internal static IReadOnlyList<SiloOverview> Silos(IReadOnlyDictionary<SiloAddress, SiloStatus> hosts, SiloAddress self, IEnumerable<PartitionDescription> partitions)
    {
        var replicas = partitions.SelectMany(p => p.Replicas).ToLookup(r => r.Silo, StringComparer.Ordinal);
        var silos = new List<SiloOverview>();
        foreach (var (silo, status) in hosts.OrderBy(h => h.Key.ToParsableString(), StringComparer.Ordinal))
        {
            var address = silo.ToParsableString();
            var held = replicas[address].ToList();
            silos.Add(new SiloOverview(
                address, silo.Endpoint.ToString(), status.ToString(), silo.Equals(self), held.Count, held.Count(r => r.Role == ReplicaRole.Leader)));
        }

        return silos;
    }
}
