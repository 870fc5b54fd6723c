using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Placement;

namespace Pyralog.Grains.Metadata;

/*
 * The admin front of the metadata group. It holds no state of its own: every answer comes from the group's leader
 * (changes are committed there, listings are linearizable reads), so any number of activations may run.
 *
 * Founding the metadata group: the first call prepares its replicas and, only if none of them holds a Raft log yet,
 * bootstraps them with the incarnations they reported (ReplicaGrain's founding rule makes a member refuse any other
 * first configuration). If a majority of the group lost its data at once, the group is gone — beyond what RF 3
 * survives — and a new, empty one is founded; but not while a replica's silo holds partition data: then the silos with
 * the group's data are down, not new, nor while the cluster's grain storage records the group founded (MetadataFounding).
 *
 * Creating a log takes four commits, each idempotent, so a creation interrupted anywhere is finished by a retry:
 * "create" assigns the id (or returns the existing log of the same shape), "homes" records the silo of every replica
 * (by the placement rule over the active silos; first writer wins), "incarnations" records every replica's founding
 * incarnation (first writer wins; replicas are prepared before it, placed from this silo, which knows the homes), and
 * after every partition's replicas were told to bootstrap with exactly those incarnations, "activate".
 */
[Reentrant]
internal sealed partial class PyralogAdminGrain(
    IOptions<PyralogOptions> options, IClusterMembershipService membership, ReplicaHomeTable homes, ILogger<PyralogAdminGrain> logger)
    : Grain, IPyralogAdminGrain, IMetadataAdminGrain
{
    private static readonly TimeSpan LeaderSearchTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(2);

    private readonly int _metadataReplicas = options.Value.MetadataReplicas;
    private readonly bool _refound = options.Value.RefoundMetadataGroup;
    private bool _refusalLogged;
    private Task? _founding;
    private int _leaderHint;

    public async Task<LogInfo> CreateLogAsync(string name, int partitions, int replicationFactor, LogSettings? settings = null)
    {
        settings ??= new LogSettings();
        ValidateName(name);
        if (partitions < 1 || partitions > ReplicaGrainKey.MaxPartitions)
        {
            throw new ArgumentOutOfRangeException(nameof(partitions), partitions, $"a log has 1..{ReplicaGrainKey.MaxPartitions} partitions (was {partitions})");
        }

        if (replicationFactor < 1 || replicationFactor > ReplicaGrainKey.MaxReplicationFactor)
        {
            throw new ArgumentOutOfRangeException(nameof(replicationFactor), replicationFactor,
                $"the replication factor is 1..{ReplicaGrainKey.MaxReplicationFactor} (was {replicationFactor})");
        }

        if (settings.MaxRecordBytes < 64 || settings.MaxRecordBytes > LogSettings.MaxBatchBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.MaxRecordBytes,
                $"the max record size is 64..{LogSettings.MaxBatchBytes} bytes (was {settings.MaxRecordBytes})");
        }

        if (!Enum.IsDefined(settings.Durability))
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.Durability, "durability is Fsync or OsCache");
        }

        if (settings.RetentionAge is { } age && (age < LogSettings.MinRetentionAge || age.Ticks % TimeSpan.TicksPerMillisecond != 0))
        {
            throw new ArgumentOutOfRangeException(nameof(settings), age,
                $"the retention age is at least {LogSettings.FormatAge(LogSettings.MinRetentionAge)}, in whole milliseconds (was {age})");
        }

        if (settings.RetentionBytes is { } bytes && bytes < LogSettings.MinRetentionBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(settings), bytes,
                $"the retention bytes of a partition are at least {LogSettings.MinRetentionBytes} (1 MiB) (was {bytes})");
        }

        var created = await CommitAsync(MetadataCommand.Create(name, partitions, replicationFactor, settings));
        var log = created.Log!;
        if (created.Error is not null)
        {
            throw new InvalidOperationException($"cannot create log '{name}' with {partitions} partitions, RF {replicationFactor}: {created.Error}");
        }

        if (log.Info.State == LogState.Active)
        {
            return log.Info;
        }

        var info = log.Info;
        if (log.Homes is null)
        {
            log = Checked(await CommitAsync(new MetadataCommand { Kind = "homes", LogId = info.Id, Homes = PlaceReplicas(info) }), name);
        }

        homes.Learn(info.Id, log.Homes);
        if (log.Incarnations is null)
        {
            var prepared = new Task<ReplicaPrepared>[info.Partitions * info.ReplicationFactor];
            for (var p = 0; p < info.Partitions; p++)
            {
                for (var r = 0; r < info.ReplicationFactor; r++)
                {
                    prepared[p * info.ReplicationFactor + r] = Replica(info, p, r).PrepareAsync();
                }
            }

            await Task.WhenAll(prepared);
            var incarnations = new long[info.Partitions][];
            for (var p = 0; p < info.Partitions; p++)
            {
                incarnations[p] = new long[info.ReplicationFactor];
                for (var r = 0; r < info.ReplicationFactor; r++)
                {
                    incarnations[p][r] = prepared[p * info.ReplicationFactor + r].Result.Incarnation;
                }
            }

            log = Checked(await CommitAsync(new MetadataCommand { Kind = "incarnations", LogId = info.Id, Incarnations = incarnations }), name);
        }

        var bootstraps = new List<Task<bool>>(info.Partitions * info.ReplicationFactor);
        for (var p = 0; p < info.Partitions; p++)
        {
            var bootstrap = new ReplicaBootstrap(log.Incarnations![p], info.Settings);
            for (var r = 0; r < info.ReplicationFactor; r++)
            {
                bootstraps.Add(Replica(info, p, r).BootstrapAsync(bootstrap));
            }
        }

        await Task.WhenAll(bootstraps);
        await RequireFoundedAsync(info, bootstraps);
        log = Checked(await CommitAsync(new MetadataCommand { Kind = "activate", LogId = info.Id }), name);
        logger.LogInformation("Created log {Name} (id {Id}): {Partitions} partitions, RF {Rf}", name, info.Id, info.Partitions, info.ReplicationFactor);
        return log.Info;
    }

    /// <summary>
    /// Refuses to activate a log with a partition no replica founded: neither now (every bootstrap answered false) nor in an
    /// earlier attempt (no replica holds a log). A create retried while a silo is down reaches stand-ins that run under
    /// other incarnations than the recorded ones, and they do not found the group; activated, the partition would never
    /// elect a leader. The recorded incarnations stay (a late bootstrap of an earlier attempt founds with them): the
    /// create succeeds when retried once the replicas run on their data again.
    /// </summary>
    private async Task RequireFoundedAsync(LogInfo info, List<Task<bool>> bootstraps)
    {
        for (var p = 0; p < info.Partitions; p++)
        {
            var founded = false;
            for (var r = 0; r < info.ReplicationFactor && !founded; r++)
            {
                founded = bootstraps[p * info.ReplicationFactor + r].Result;
            }

            for (var r = 0; r < info.ReplicationFactor && !founded; r++)
            {
                founded = (await Replica(info, p, r).GetStatusAsync()).LastIndex > 0;
            }

            if (!founded)
            {
                throw new InvalidOperationException(
                    $"log '{info.Name}' is not created yet: no replica of partition {p} could start its group (they run under other incarnations than the ones recorded when the create began, a silo holding them is down); create it again once that silo is back, or delete it");
            }
        }
    }

    /// <summary>Where the replicas of a new log live: per partition, the silos the placement rule gives its slots over the active silos.</summary>
    private string[][] PlaceReplicas(LogInfo info)
    {
        var active = new List<SiloAddress>();
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status == SiloStatus.Active)
            {
                active.Add(member.SiloAddress);
            }
        }

        if (active.Count == 0)
        {
            active.Add(membership.CurrentSnapshot.Members.Keys.First()); // unreachable while this grain runs on an active silo
        }

        var placed = new string[info.Partitions][];
        for (var p = 0; p < placed.Length; p++)
        {
            placed[p] = Array.ConvertAll(ReplicaPlacementDirector.PlaceGroup(info.Id, p, info.ReplicationFactor, active), s => s.Endpoint.ToString());
        }

        return placed;
    }

    public Task<MetadataLog[]> GetMetadataLogsAsync() => QueryAsync();

    public Task<MetadataLogsView> GetAppliedMetadataLogsAsync(long knownIndex) => AtLeaderAsync(replica => replica.QueryAppliedAsync(knownIndex));

    public Task<MetadataResult> CommitMetadataAsync(byte[] command) => AtLeaderAsync(replica => replica.ProposeAsync(command));

    public async Task DeleteLogAsync(string name)
    {
        ValidateName(name);

        // The delete names the log's id: a commit retried after an unknown outcome (a timeout, the leader's silo lost)
        // finds it gone and succeeds, where by name alone it failed or removed a log created since under the same name.
        var named = await GetLogAsync(name) ?? throw new InvalidOperationException($"cannot delete log '{name}': no log is named '{name}'");
        var deleted = await CommitAsync(new MetadataCommand { Kind = "delete", Name = name, LogId = named.Id });
        if (deleted.Error is not null)
        {
            throw new InvalidOperationException($"cannot delete log '{name}': {deleted.Error}");
        }

        var info = deleted.Log?.Info ?? named;
        var drops = new List<Task>();
        for (var p = 0; p < info.Partitions; p++)
        {
            foreach (var r in info.ReplicaSlots(p))
            {
                drops.Add(Replica(info, p, r).DeleteAsync());
            }
        }

        try
        {
            await Task.WhenAll(drops);
        }
        catch (Exception e)
        {
            // The log is gone from the metadata; a replica that could not drop its data keeps it until its silo's LeftoverReplicaSweep drops it.
            logger.LogWarning(e, "Deleted log {Name}, but not every replica dropped its data", name);
        }
    }

    public async Task<LogInfo[]> ListLogsAsync() => [.. (await QueryAsync()).Select(l => l.Info).OrderBy(l => l.Name, StringComparer.Ordinal)];

    public async Task<LogInfo?> GetLogAsync(string name) => (await QueryAsync()).FirstOrDefault(l => l.Info.Name == name)?.Info;

    public async Task<LogDescription> DescribeLogAsync(string name)
    {
        var info = await GetLogAsync(name) ?? throw new InvalidOperationException($"no log is named '{name}'");
        var partitions = new Task<PartitionDescription>[info.Partitions];
        for (var p = 0; p < info.Partitions; p++)
        {
            partitions[p] = DescribePartitionAsync(info, p);
        }

        return new LogDescription(info, await Task.WhenAll(partitions));
    }

    public Task<PartitionDescription> DescribeMetadataGroupAsync()
    {
        var replicas = new IRaftReplicaGrain[_metadataReplicas];
        for (var r = 0; r < replicas.Length; r++)
        {
            replicas[r] = MetadataReplica(r);
        }

        return DescribeGroupAsync(0, replicas, [.. Enumerable.Range(0, _metadataReplicas)]);
    }

    private Task<PartitionDescription> DescribePartitionAsync(LogInfo info, int partition)
    {
        var slots = info.ReplicaSlots(partition);
        var replicas = new IRaftReplicaGrain[slots.Length];
        for (var i = 0; i < replicas.Length; i++)
        {
            replicas[i] = Replica(info, partition, slots[i]);
        }

        return DescribeGroupAsync(partition, replicas, slots);
    }

    /// <summary>One Raft group as its replicas report it, slot by slot (<paramref name="replicas"/>[i] is slot <paramref name="slots"/>[i]).</summary>
    private static async Task<PartitionDescription> DescribeGroupAsync(int partition, IRaftReplicaGrain[] replicas, int[] slots)
    {
        var statuses = new Task<ReplicaStatus>[replicas.Length];
        for (var r = 0; r < replicas.Length; r++)
        {
            statuses[r] = replicas[r].GetStatusAsync().WaitAsync(StatusTimeout);
        }

        try
        {
            await Task.WhenAll(statuses);
        }
        catch
        {
            // Reported per replica below.
        }

        ReplicaStatus? leader = null;
        foreach (var s in statuses)
        {
            if (s.IsCompletedSuccessfully && s.Result.Role == ReplicaRole.Leader && (leader is null || s.Result.Term > leader.Term))
            {
                leader = s.Result;
            }
        }

        var described = new ReplicaDescription[replicas.Length];
        var silos = new HashSet<string>(StringComparer.Ordinal);
        for (var r = 0; r < described.Length; r++)
        {
            var key = replicas[r].GetPrimaryKeyString();
            if (statuses[r].IsCompletedSuccessfully)
            {
                var s = statuses[r].Result;
                silos.Add(s.Silo);
                var lag = leader is null || s.NextOffset >= leader.NextOffset ? 0 : leader.NextOffset - s.NextOffset;
                described[r] = new ReplicaDescription(slots[r], key, s.Silo, RoleInGroup(s, slots[r], leader), s.NextOffset, lag, null);
            }
            else
            {
                var error = statuses[r].Exception?.GetBaseException().Message ?? "no answer";
                described[r] = new ReplicaDescription(slots[r], key, "", ReplicaRole.None, 0, 0, error);
            }
        }

        return new PartitionDescription(
            partition,
            leader is null ? -1 : ReplicaGrainKey.TryParse(leader.Key, out var slotKey) && slotKey.Replica is var slot ? slot : -1,
            leader?.Silo,
            leader?.Epoch ?? 0,
            leader?.FirstOffset ?? 0,
            leader?.NextOffset ?? 0,
            described,
            silos.Count < described.Count(d => d.Error is null));
    }

    /// <summary>
    /// A replica's role as its group sees it: a replica that calls itself a follower but is not the voter the leader's
    /// configuration names for its slot (one back on old data, not yet rejoined; one still being caught up) is a learner.
    /// </summary>
    private static ReplicaRole RoleInGroup(ReplicaStatus status, int slot, ReplicaStatus? leader) =>
        status.Role == ReplicaRole.Follower && leader is not null &&
        (slot >= leader.VoterIncarnations.Length || leader.VoterIncarnations[slot] != status.Incarnation)
            ? ReplicaRole.Learner
            : status.Role;

    private IPartitionReplicaGrain Replica(LogInfo info, int partition, int replica) =>
        GrainFactory.GetGrain<IPartitionReplicaGrain>(info.ReplicaKey(partition, replica));

    private IMetadataReplicaGrain MetadataReplica(int replica) =>
        GrainFactory.GetGrain<IMetadataReplicaGrain>(ReplicaGrainKey.Of(0, 0, replica));

    private static MetadataLog Checked(MetadataResult result, string name) =>
        result.Error is null ? result.Log! : throw new InvalidOperationException($"log '{name}': {result.Error}");

    private Task<MetadataResult> CommitAsync(MetadataCommand command)
    {
        var encoded = command.Encode();
        return AtLeaderAsync(replica => replica.ProposeAsync(encoded));
    }

    private Task<MetadataLog[]> QueryAsync() => AtLeaderAsync(replica => replica.QueryAsync());

    /// <summary>Runs <paramref name="call"/> at the metadata leader, following NotLeader hints and trying each replica while an election runs.</summary>
    private async Task<T> AtLeaderAsync<T>(Func<IMetadataReplicaGrain, Task<T>> call)
    {
        await (_founding ??= FoundMetadataGroupAsync());
        var deadline = DateTime.UtcNow + LeaderSearchTimeout;
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            var slot = _leaderHint;
            try
            {
                return await call(MetadataReplica(slot));
            }
            catch (NotLeaderException e) when (DateTime.UtcNow < deadline)
            {
                if (e.LeaderReplicaKey is { } key && ReplicaGrainKey.TryParse(key, out var leaderKey) && leaderKey.Replica is var leader && leader != slot)
                {
                    _leaderHint = leader;
                    continue;
                }

                _leaderHint = (slot + 1) % _metadataReplicas;
            }
            catch (TimeoutException) when (DateTime.UtcNow < deadline)
            {
                _leaderHint = (slot + 1) % _metadataReplicas;
            }
            catch (Exception e) when (e is SiloUnavailableException or OrleansMessageRejectionException && DateTime.UtcNow < deadline)
            {
                _leaderHint = (slot + 1) % _metadataReplicas;
            }

            await Task.Delay(delay);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 200));
        }
    }

    private async Task FoundMetadataGroupAsync()
    {
        try
        {
            var prepared = await Task.WhenAll(Enumerable.Range(0, _metadataReplicas).Select(r => MetadataReplica(r).PrepareAsync()));
            if (MetadataFounding.Founded(prepared))
            {
                return; // the record is read only when it decides: a running group does not depend on its storage
            }

            var record = GrainFactory.GetGrain<IMetadataFoundingRecordGrain>(0);
            var recorded = await record.ReadAsync();
            try
            {
                MetadataFounding.RequireNew(prepared, recorded, _refound);
            }
            catch (InvalidOperationException e) when (!_refusalLogged)
            {
                // Every call fails with this until the silos holding the group's data are back: said once per activation.
                _refusalLogged = true;
                logger.LogWarning("Not founding the metadata group: {Reason}", e.Message);
                throw;
            }

            var incarnations = prepared.Select(p => p.Incarnation).ToArray();
            var founded = await Task.WhenAll(Enumerable.Range(0, _metadataReplicas).Select(r => MetadataReplica(r).BootstrapAsync(incarnations)));
            logger.LogInformation("Founded the metadata group: {Count} of {Replicas} replicas bootstrapped", founded.Count(f => f), _metadataReplicas);
            if (recorded is not null)
            {
                logger.LogWarning(
                    "Founded an empty metadata group over the cluster's record of one founded {FoundedAt:O} (Pyralog:RefoundMetadataGroup): " +
                    "remove the setting, or a silo without data that comes back first after a full stop will do the same", recorded.FoundedAt);
            }

            try
            {
                await (_refound ? record.ReplaceAsync(RuntimeIdentity) : record.RecordAsync(RuntimeIdentity));
            }
            catch (Exception e)
            {
                // Every silo records it too, once it reads the founded group (MetadataVersionUpgrade).
                logger.LogWarning(e, "The cluster's record that the metadata group is founded was not written; the silos will write it");
            }
        }
        catch
        {
            _founding = null; // the next call tries again
            throw;
        }
    }

    private static void ValidateName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 200 || !NamePattern().IsMatch(name))
        {
            throw new ArgumentException($"a log name is 1..200 characters of letters, digits, '.', '_' and '-' (was '{name}')", nameof(name));
        }
    }

    [GeneratedRegex(@"^[A-Za-z0-9._-]+\z")] // \z: "$" also matches before a final newline
    private static partial Regex NamePattern();
}
