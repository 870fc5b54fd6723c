using System.Text;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>Calls the partition tests share: a record from text, and the leader of a partition once one is elected.</summary>
internal static class PartitionCalls
{
    public static ProducerRecord Rec(string value) => new(null, Encoding.UTF8.GetBytes(value));

    /// <summary>The partition's leader once one is elected (reads the log's slots again when a replica move changed them).</summary>
    public static async Task<IPartitionReplicaGrain> LeaderAsync(IGrainFactory grains, LogInfo log, int partition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            foreach (var r in log.ReplicaSlots(partition))
            {
                var replica = grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(partition, r));
                try
                {
                    // Bounded: a replica on a silo that is stopping can leave a call unanswered for Orleans' whole 30 s
                    // response timeout, and it is not the leader the caller is looking for.
                    var status = await replica.GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(5));
                    if (status.Role == ReplicaRole.Leader)
                    {
                        await replica.ReadAsync(0, 1, linearizable: true).WaitAsync(TimeSpan.FromSeconds(10)); // still leading, and its term's no-op is applied
                        return replica;
                    }
                }
                catch (Exception e) when (e is NotLeaderException or TimeoutException or SiloUnavailableException or OrleansMessageRejectionException or InvalidOperationException && DateTime.UtcNow < deadline)
                {
                }
            }

            try
            {
                log = await grains.GetGrain<IPyralogAdminGrain>(0).GetLogAsync(log.Name) ?? log;
            }
            catch (Exception e) when (e is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no leader for partition {partition} of log {log.Name} within 30 s");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Appends <paramref name="records"/> at the partition's leader, finding it again when the append answers that it no
    /// longer leads (leader balancing hands fresh groups' leaderships over; such an append wrote nothing, so it is
    /// retried); returns the acknowledgement and the leader that gave it. 30 s at most.
    /// </summary>
    public static async Task<(AppendAck Ack, IPartitionReplicaGrain Leader)> AppendAtLeaderAsync(IGrainFactory grains, LogInfo log, int partition, ProducerRecord[] records)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var leader = await LeaderAsync(grains, log, partition);
            try
            {
                return (await leader.AppendAsync(records), leader);
            }
            catch (NotLeaderException) when (DateTime.UtcNow < deadline)
            {
            }
        }
    }

    /// <summary>
    /// Appends <paramref name="records"/> at <paramref name="leader"/>; when the append fails, the exception says what
    /// every replica of the partition reported right after (each asked for at most 5 s), so a stuck group explains itself.
    /// </summary>
    public static async Task<AppendAck> AppendOrDescribeAsync(IPartitionReplicaGrain leader, ProducerRecord[] records, IPartitionReplicaGrain[] replicas)
    {
        try
        {
            return await leader.AppendAsync(records);
        }
        catch (Exception e) when (e is TimeoutException or NotLeaderException or OrleansException)
        {
            var lines = new List<string>();
            foreach (var replica in replicas)
            {
                try
                {
                    var s = await replica.GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(5));
                    lines.Add($"{s.Key} on {s.Silo}: {s.Role} term {s.Term} leader {s.LeaderReplica} incarnation {s.Incarnation} " +
                              $"commit {s.CommitIndex} applied {s.AppliedIndex} last {s.LastIndex} snapshot {s.SnapshotIndex} offsets {s.FirstOffset}..{s.NextOffset} quiesced {s.Quiesced}");
                }
                catch (Exception f)
                {
                    lines.Add($"{replica.GetPrimaryKeyString()}: no status ({f.GetType().Name}: {f.Message})");
                }
            }

            throw new Xunit.Sdk.XunitException($"append at {leader.GetPrimaryKeyString()} failed ({e.GetType().Name}: {e.Message}); replicas after: {string.Join("; ", lines)}", e);
        }
    }

    /// <summary>The records of <paramref name="replica"/> from <paramref name="from"/> to <paramref name="end"/> (exclusive), read in budgets of 1 MiB.</summary>
    public static async Task<List<CommittedRecord>> ReadAllFromAsync(IPartitionReplicaGrain replica, ulong from, ulong end)
    {
        var all = new List<CommittedRecord>();
        while (from < end)
        {
            var batch = await replica.ReadAsync(from, 1 << 20);
            Assert.NotEmpty(batch.Records);
            all.AddRange(batch.Records);
            from = batch.NextOffset;
        }

        return all;
    }

    /// <summary>Every record of <paramref name="replica"/> from offset 0, once it has applied up to <paramref name="end"/> (waits up to 30 s).</summary>
    public static async Task<List<CommittedRecord>> ReadAllAsync(IPartitionReplicaGrain replica, ulong end)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var all = new List<CommittedRecord>();
            ReadBatch batch;
            ulong next = 0;
            do
            {
                batch = await replica.ReadAsync(next, 1 << 20);
                all.AddRange(batch.Records);
                next = batch.NextOffset;
            }
            while (batch.Records.Length > 0);

            if (batch.CommittedNext >= end || DateTime.UtcNow > deadline)
            {
                Assert.True(batch.CommittedNext >= end, $"replica {replica.GetPrimaryKeyString()} did not catch up to {end} (at {batch.CommittedNext})");
                return all;
            }

            await Task.Delay(50);
        }
    }

    public static bool AllLeadOrFollow(PartitionDescription partition) =>
        partition.LeaderReplica >= 0 && partition.Replicas.All(r => r.Error is null && r.Role is ReplicaRole.Leader or ReplicaRole.Follower);

    /// <summary>An empty history of <paramref name="partitions"/> partitions: acknowledged appends, and appends whose outcome is unknown.</summary>
    public static (List<(string Value, AppendAck Ack)>[] Acked, List<string>[] Unknown) EmptyHistory(int partitions) =>
        (Enumerable.Range(0, partitions).Select(_ => new List<(string Value, AppendAck Ack)>()).ToArray(),
         Enumerable.Range(0, partitions).Select(_ => new List<string>()).ToArray());

    /// <summary>Appends one record named <paramref name="stage"/> to each partition's leader until it is acknowledged; failed attempts are recorded as unknown.</summary>
    public static async Task AppendToEachAsync(IClusterClient grains, LogInfo log, string stage, List<(string, AppendAck)>[] acked, List<string>[] unknown)
    {
        for (var partition = 0; partition < log.Partitions; partition++)
        {
            for (var attempt = 0; ; attempt++)
            {
                Assert.True(attempt < 20, $"partition {partition} acknowledged no '{stage}' append in 20 attempts");
                var value = $"{stage}-{partition}-{attempt}";
                var leader = await LeaderAsync(grains, log, partition);
                try
                {
                    acked[partition].Add((value, await leader.AppendAsync([Rec(value)]).WaitAsync(TimeSpan.FromSeconds(5))));
                    break;
                }
                catch (Exception e) when (e is NotLeaderException or TimeoutException or SiloUnavailableException or OrleansMessageRejectionException or InvalidOperationException)
                {
                    unknown[partition].Add(value);
                }
            }
        }
    }

    /// <summary>How many groups (the log's partitions and the metadata group) each silo leads, by silo.</summary>
    public static async Task<Dictionary<string, int>> LeadersPerSiloAsync(IClusterClient grains, IPyralogAdminGrain admin, string logName)
    {
        var counts = new Dictionary<string, int>();
        foreach (var partition in (await admin.DescribeLogAsync(logName)).Partitions)
        {
            if (partition.LeaderSilo is { } silo)
            {
                counts[silo] = counts.GetValueOrDefault(silo) + 1;
            }
        }

        for (var replica = 0; replica < 3; replica++)
        {
            var status = await grains.GetGrain<IMetadataReplicaGrain>(ReplicaGrainKey.Of(0, 0, replica)).GetStatusAsync();
            if (status.Role == ReplicaRole.Leader)
            {
                counts[status.Silo] = counts.GetValueOrDefault(status.Silo) + 1;
            }
        }

        return counts;
    }

    /// <summary>
    /// Hands <paramref name="leader"/>'s leadership to <paramref name="slot"/>, asking again for up to 10 s: right after
    /// an election a follower counts as caught up only once the new leader has heard it acknowledge its first entry.
    /// </summary>
    public static async Task<bool> HandOverAsync(IPartitionReplicaGrain leader, int slot)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await leader.HandLeadershipToAsync(slot))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }

    public static async Task<LogDescription> WaitForAsync(IPyralogAdminGrain admin, string logName, Func<LogDescription, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        LogDescription? last = null;
        Exception? failed = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await admin.DescribeLogAsync(logName);
                failed = null;
                if (condition(last))
                {
                    return last;
                }
            }
            catch (Exception e) when (e is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException or InvalidOperationException)
            {
                failed = e; // the metadata group may be electing after the kill; asked again
            }

            await Task.Delay(100);
        }

        var state = last is null ? "no description" : string.Join("; ", last.Partitions.Select(p =>
            $"p{p.Partition} leader {p.LeaderReplica} shared={p.SharedSilos}: {string.Join(", ", p.Replicas.Select(r => $"{r.Replica}={r.Role}@{r.Silo}"))}"));
        throw new TimeoutException($"timed out waiting for {what}: {state}" + (failed is null ? "" : $"; the last description failed: {failed.GetType().Name}: {failed.Message}") +
            await MetadataGroupAsync(admin), failed);
    }

    /// <summary>
    /// The metadata group as its replicas report it (no leader needed), for a timeout's message: a description that
    /// kept failing in CI left nothing to tell a leaderless metadata group from a slow one.
    /// </summary>
    private static async Task<string> MetadataGroupAsync(IPyralogAdminGrain admin)
    {
        try
        {
            var group = await admin.DescribeMetadataGroupAsync().WaitAsync(TimeSpan.FromSeconds(10));
            return "; metadata group: " + string.Join(", ", group.Replicas.Select(r => $"{r.Replica}={r.Role}@{r.Silo}" + (r.Error is null ? "" : $" ({r.Error})")));
        }
        catch (Exception e)
        {
            return $"; metadata group not described: {e.GetType().Name}: {e.Message}";
        }
    }

    /// <summary>Reads every replica of every partition up to its leader's committed end and checks each against the history.</summary>
    public static async Task CheckEveryReplicaAsync(IClusterClient grains, LogInfo log, List<(string Value, AppendAck Ack)>[] acked, List<string>[] unknown)
    {
        for (var partition = 0; partition < log.Partitions; partition++)
        {
            var leader = await LeaderAsync(grains, log, partition);
            var end = (await leader.ReadAsync(0, 1, linearizable: true)).CommittedNext;
            foreach (var r in log.ReplicaSlots(partition))
            {
                var replica = grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(partition, r));
                PartitionHistoryCheck.Check(acked[partition], unknown[partition], await ReadAllAsync(replica, end));
            }
        }
    }

    /// <summary>Log <paramref name="name"/> as the metadata group holds it (homes, moves), read at its leader.</summary>
    public static async Task<MetadataLog> MetadataLogAsync(IGrainFactory grains, string name) =>
        (await grains.GetGrain<IMetadataAdminGrain>(0).GetMetadataLogsAsync()).Single(l => l.Info.Name == name);

    /// <summary>Waits until the metadata group is at this build's version (the metadata leader's silo raises it every 5 s: within seconds of a cluster's start).</summary>
    public static Task WaitForMetadataVersionAsync(IGrainFactory grains) =>
        WaitAsync(async () => (await grains.GetGrain<IMetadataAdminGrain>(0).GetAppliedMetadataLogsAsync(-1)).Version == MetadataVersion.Latest,
            $"the metadata group at version {MetadataVersion.Latest}", MetadataVersionUpgrade.CheckInterval * 6);

    /// <summary>Waits (bounded by <paramref name="within"/>) until <paramref name="condition"/> holds; an election or a dying silo's errors only mean asking again.</summary>
    public static Task WaitAsync(Func<bool> condition, string what, TimeSpan within) => WaitAsync(() => Task.FromResult(condition()), what, within);

    public static async Task WaitAsync(Func<Task<bool>> condition, string what, TimeSpan within, Func<string>? state = null)
    {
        var deadline = DateTime.UtcNow + within;
        Exception? failed = null;
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }

                failed = null;
            }
            catch (Exception e) when (e is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException or InvalidOperationException)
            {
                failed = e; // an election or a dying silo: asked again
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out after {within.TotalSeconds:0} s waiting for {what}{(state is null ? "" : $": {state()}")}", failed);
            }

            await Task.Delay(100);
        }
    }

}
