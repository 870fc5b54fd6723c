using Pyralog.Grains.Diagnostics;

namespace Pyralog.Grains.Replication;

/// <summary>
/// Reads a <see cref="LeadershipView"/>: the groups this silo leads and what every other active silo leads and follows
/// (each asked through its <see cref="ISiloReportService"/>). Leader balancing reads one per round; a drain reads one to
/// hand each leadership to the least loaded silo holding a follower.
/// </summary>
internal sealed class LeadershipReader(IClusterMembershipService membership, ILocalSiloDetails silo, LocalReplicas replicas, SiloReportClient reports)
{
    /// <summary>
    /// The view, with <paramref name="draining"/> as this silo's drain; null while this silo is not active or no other
    /// silo is. Throws when a silo does not answer within <paramref name="timeout"/>.
    /// </summary>
    public async Task<LeadershipView?> ReadAsync(bool draining, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var self = silo.SiloAddress;
        var others = new List<SiloAddress>();
        var selfActive = false;
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status != SiloStatus.Active)
            {
                continue;
            }

            if (member.SiloAddress.Equals(self))
            {
                selfActive = true;
            }
            else
            {
                others.Add(member.SiloAddress);
            }
        }

        if (!selfActive || others.Count == 0)
        {
            return null;
        }

        var read = new Task<SiloLeadership>[others.Count];
        for (var i = 0; i < others.Count; i++)
        {
            read[i] = reports.For(others[i]).GetLeadershipAsync().WaitAsync(timeout, cancellationToken);
        }

        var leaderships = await Task.WhenAll(read).ConfigureAwait(false);
        var leaders = new List<(string Key, bool Metadata)>();
        foreach (var (key, metadata) in replicas.Active)
        {
            if (replicas.Leads(key))
            {
                leaders.Add((key, metadata));
            }
        }

        return new LeadershipView(leaders, leaderships, draining);
    }
}
