using System.Globalization;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Cluster;

/// <summary>
/// The silos of a cluster with the partition replicas each hosts and the Raft groups each leads, and whether they are
/// balanced: every serving silo's (active, not drained by an operator, and answering whether it is) replica count and
/// leader count within one of the mean over the serving silos, and every other silo holding nothing (a silo that did not
/// say whether it drains is noted and not judged). Leaders
/// count the metadata group's with the partitions' (the leader balancer weighs them alike); replicas count partitions
/// only (the metadata group's replicas are placed by their own rule and never moved). <see cref="Notes"/> name what the counts could not include (a replica that did not answer, a partition
/// without a leader, a log that could not be described) and what is wrong with the metadata group (<see cref="MetadataNotes"/>).
/// </summary>
public sealed record ClusterStatus(IReadOnlyList<SiloPlacement> Silos, bool Balanced, double MeanReplicas, double MeanLeaders, IReadOnlyList<string> Notes)
{
    /// <summary>
    /// Counts <paramref name="logs"/>' replicas and leaders, and the leader of <paramref name="metadataGroup"/>, per silo
    /// of <paramref name="silos"/> (address, name, status; dead silos are left out unless a replica names one) and judges
    /// the balance; the silos in <paramref name="draining"/> (addresses) are drained by an operator, and those in
    /// <paramref name="drainingUnknown"/> did not say whether they are (noted, and left out of the balance).
    /// </summary>
    public static ClusterStatus Build(
        IEnumerable<(string Address, string Name, string Status)> silos, IEnumerable<LogDescription> logs, IEnumerable<string>? notes = null,
        PartitionDescription? metadataGroup = null, IEnumerable<string>? draining = null, IEnumerable<string>? drainingUnknown = null)
    {
        var drained = new HashSet<string>(draining ?? [], StringComparer.Ordinal);
        var undecided = new HashSet<string>(drainingUnknown ?? [], StringComparer.Ordinal);
        var rows = new Dictionary<string, (string Name, string Status, int Replicas, int Leaders)>(StringComparer.Ordinal);
        var dead = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (address, name, status) in silos)
        {
            if (status == "Dead")
            {
                dead[address] = name;
            }
            else
            {
                rows[address] = (name, status, 0, 0);
            }
        }

        var allNotes = new List<string>(notes ?? []);
        foreach (var log in logs)
        {
            foreach (var partition in log.Partitions)
            {
                foreach (var replica in partition.Replicas)
                {
                    if (replica.Error is not null || string.IsNullOrEmpty(replica.Silo))
                    {
                        allNotes.Add($"replica {replica.Key} of {log.Log.Name}/{partition.Partition} did not answer: {replica.Error}");
                        continue;
                    }

                    Count(replica.Silo, replica: 1, leader: 0);
                }

                if (partition.LeaderReplica < 0 || partition.LeaderSilo is null)
                {
                    allNotes.Add($"partition {log.Log.Name}/{partition.Partition} has no leader");
                }
                else
                {
                    Count(partition.LeaderSilo, replica: 0, leader: 1);
                }
            }
        }

        if (metadataGroup is { LeaderReplica: >= 0, LeaderSilo: { } metadataLeader })
        {
            Count(metadataLeader, replica: 0, leader: 1);
        }

        var ordered = rows.Select(r => new SiloPlacement(r.Key, r.Value.Name, r.Value.Status, r.Value.Replicas, r.Value.Leaders, drained.Contains(r.Key), undecided.Contains(r.Key)))
            .OrderBy(s => s.Address, StringComparer.Ordinal).ToArray();
        foreach (var silo in ordered)
        {
            if (silo.DrainingUnknown)
            {
                // Counted as serving, a draining silo would read as a full one held back; counted as draining, a serving one as stuck.
                allNotes.Add($"could not tell whether {silo.Address} drains (it did not answer in time): left out of the balance");
            }
        }

        var serving = ordered.Where(s => s.Serves).ToArray();
        var meanReplicas = serving.Length == 0 ? 0 : serving.Sum(s => s.Replicas) / (double)serving.Length;
        var meanLeaders = serving.Length == 0 ? 0 : serving.Sum(s => s.Leaders) / (double)serving.Length;
        var balanced = serving.Length > 0 &&
            ordered.All(s => s.Serves || s.DrainingUnknown || s is { Replicas: 0, Leaders: 0 }) &&
            serving.All(s => Math.Abs(s.Replicas - meanReplicas) <= 1 && Math.Abs(s.Leaders - meanLeaders) <= 1);
        return new ClusterStatus(ordered, balanced, meanReplicas, meanLeaders, allNotes);

        void Count(string silo, int replica, int leader)
        {
            var row = rows.TryGetValue(silo, out var known) ? known : (dead.GetValueOrDefault(silo, ""), dead.ContainsKey(silo) ? "Dead" : "Unknown", 0, 0);
            rows[silo] = (row.Item1, row.Item2, row.Item3 + replica, row.Item4 + leader);
        }
    }

    /// <summary>
    /// What is wrong with the metadata group as <paramref name="group"/> describes it (nothing when it has a leader and
    /// every replica votes on a silo of its own): without a leader no log can be created, described or deleted; with a
    /// replica missing or still catching up, one more failure takes its leader.
    /// </summary>
    public static IEnumerable<string> MetadataNotes(PartitionDescription group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (group.LeaderReplica < 0)
        {
            yield return "the metadata group has no leader: logs cannot be created, described or deleted until it elects one";
        }

        foreach (var replica in group.Replicas)
        {
            if (replica.Error is not null)
            {
                yield return $"metadata replica {replica.Key} did not answer: {replica.Error}";
            }
            else if (replica.Role == ReplicaRole.Learner)
            {
                yield return $"metadata replica {replica.Key} is a learner catching up on {replica.Silo}: the group survives no further failure until it votes";
            }
        }

        if (group.SharedSilos)
        {
            yield return "metadata replicas share a silo: losing that silo takes more than one of them";
        }
    }

    /// <summary>Why the cluster is not balanced, in a line ("balanced" when it is).</summary>
    public string Verdict()
    {
        if (Balanced)
        {
            return "balanced";
        }

        if (!Silos.Any(s => s.Serves))
        {
            return !Silos.Any(s => s.IsActive) ? "not balanced: no silo is active"
                : Silos.Any(s => s.IsActive && s.DrainingUnknown) ? "not balanced: no active silo is known to serve (see the notes)"
                : "not balanced: every active silo drains";
        }

        var reasons = new List<string>();
        foreach (var s in Silos)
        {
            if (s.DrainingUnknown)
            {
                continue; // noted: its share is unknown
            }

            if (!s.Serves && (s.Replicas > 0 || s.Leaders > 0))
            {
                reasons.Add(s.Draining
                    ? $"{s.Address} drains and hosts {s.Replicas} replicas and leads {s.Leaders}"
                    : $"{s.Address} is {s.Status} and hosts {s.Replicas} replicas and leads {s.Leaders}");
            }
            else if (s.Serves && (Math.Abs(s.Replicas - MeanReplicas) > 1 || Math.Abs(s.Leaders - MeanLeaders) > 1))
            {
                reasons.Add($"{s.Address} hosts {s.Replicas} replicas and leads {s.Leaders}");
            }
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"not balanced (mean {MeanReplicas:0.##} replicas and {MeanLeaders:0.##} leaders per serving silo): {string.Join("; ", reasons)}");
    }
}
