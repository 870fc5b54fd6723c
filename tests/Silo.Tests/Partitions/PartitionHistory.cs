namespace Pyralog.Silo.Tests.Partitions;

/// <summary>
/// Everything producers and readers saw of a partitioned log during a run (thread-safe recording), and the check of
/// that history against the final full read of every replica:
/// <list type="bullet">
/// <item>offsets are dense, 0 .. N-1, in every replica's final read;</item>
/// <item>every acknowledged append is there, in every replica, at its acknowledged epoch and offsets, exactly once (a
/// replica whose log ends before it is reported as behind, once, apart from records lost inside its log);</item>
/// <item>every acknowledged record is held by at least one replica (else it is unreadable, whatever the lag);</item>
/// <item>an append of unknown outcome is there completely (contiguous, one epoch, once) or not at all;</item>
/// <item>no record appears that was never produced, or whose append was refused;</item>
/// <item>replicas agree at every offset they both hold;</item>
/// <item>no read showed a record that a later read (or a final read) does not show at the same offset.</item>
/// </list>
/// Values must be unique across the whole history (e.g. <c>p{partition}-w{writer}-{seq}</c>).
/// </summary>
internal sealed class PartitionHistory
{
    private readonly object _gate = new();
    private readonly List<AppendEvent> _appends = [];
    private readonly List<ReadEvent> _reads = [];

    public IReadOnlyList<AppendEvent> Appends
    {
        get
        {
            lock (_gate)
            {
                return [.. _appends];
            }
        }
    }

    public IReadOnlyList<ReadEvent> Reads
    {
        get
        {
            lock (_gate)
            {
                return [.. _reads];
            }
        }
    }

    public void RecordAppend(AppendEvent append)
    {
        lock (_gate)
        {
            _appends.Add(append);
        }
    }

    public void RecordRead(ReadEvent read)
    {
        lock (_gate)
        {
            _reads.Add(read);
        }
    }

    /// <summary>A line of counts for the test output.</summary>
    public string Summary()
    {
        lock (_gate)
        {
            return $"{_appends.Count(a => a.Outcome == AppendOutcome.Acknowledged)} appends acknowledged " +
                $"({_appends.Where(a => a.Outcome == AppendOutcome.Acknowledged).Sum(a => a.Values.Length)} records), " +
                $"{_appends.Count(a => a.Outcome == AppendOutcome.Refused)} refused, {_appends.Count(a => a.Outcome == AppendOutcome.Unknown)} unknown, " +
                $"{_reads.Count} reads ({_reads.Sum(r => r.Records.Length)} records)";
        }
    }

    /// <summary>
    /// Checks the history against <paramref name="finalReads"/>: per partition, per replica key, everything the
    /// replica held at the end, from offset 0. Returns the problems found (empty when the history is consistent).
    /// </summary>
    public IReadOnlyList<string> Check(IReadOnlyDictionary<int, IReadOnlyDictionary<string, IReadOnlyList<ObservedRecord>>> finalReads)
    {
        List<AppendEvent> appends;
        List<ReadEvent> reads;
        lock (_gate)
        {
            appends = [.. _appends];
            reads = [.. _reads];
        }

        var problems = new ProblemList();
        var produced = new Dictionary<string, (AppendEvent Append, int Index)>();
        foreach (var append in appends)
        {
            for (var i = 0; i < append.Values.Length; i++)
            {
                if (!produced.TryAdd(append.Values[i], (append, i)))
                {
                    problems.Add("harness", $"value '{append.Values[i]}' was produced twice (values must be unique): {append}");
                }
            }

            if (append.Outcome == AppendOutcome.Acknowledged && append.Ack is { } ack && ack.Count != append.Values.Length)
            {
                problems.Add("ack", $"{append} acknowledged {ack.Count} records for {append.Values.Length}");
            }
        }

        foreach (var partition in appends.Select(a => a.Partition).Concat(reads.Select(r => r.Partition)).Distinct().Where(p => !finalReads.ContainsKey(p)))
        {
            problems.Add("final", $"partition {partition} has appends or reads but no final read");
        }

        foreach (var (partition, replicas) in finalReads.OrderBy(p => p.Key))
        {
            var partitionAppends = appends.Where(a => a.Partition == partition).ToList();
            var byOffset = new Dictionary<string, Dictionary<ulong, ObservedRecord>>();
            foreach (var (replica, records) in replicas.OrderBy(r => r.Key, StringComparer.Ordinal))
            {
                byOffset[replica] = CheckReplica(problems, partition, replica, records, partitionAppends, produced);
            }

            CheckHeldSomewhere(problems, partition, partitionAppends, byOffset);
            CheckReplicasAgree(problems, partition, byOffset);
            CheckReads(problems, partition, reads.Where(r => r.Partition == partition), byOffset);
        }

        return problems.ToList();
    }

    /// <summary>Density, uniqueness, provenance and every append against one replica's final read.</summary>
    private static Dictionary<ulong, ObservedRecord> CheckReplica(
        ProblemList problems,
        int partition,
        string replica,
        IReadOnlyList<ObservedRecord> records,
        List<AppendEvent> appends,
        Dictionary<string, (AppendEvent Append, int Index)> produced)
    {
        var where = $"partition {partition} replica {replica}";
        var byOffset = new Dictionary<ulong, ObservedRecord>();
        var byValue = new Dictionary<string, ObservedRecord>();
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            if (record.Offset != (ulong)i)
            {
                problems.Add("gap", i == 0
                    ? $"{where}: the final read starts at offset {record.Offset}, not 0"
                    : $"{where}: offset {record.Offset} follows offset {records[i - 1].Offset} (offsets must be dense)");
            }

            if (!byOffset.TryAdd(record.Offset, record))
            {
                problems.Add("gap", $"{where}: offset {record.Offset} appears twice in the final read");
            }

            if (byValue.TryGetValue(record.Value, out var first))
            {
                problems.Add("duplicate", $"{where}: '{record.Value}' appears twice, at offsets {first.Offset} and {record.Offset}");
            }
            else
            {
                byValue.Add(record.Value, record);
            }

            if (!produced.TryGetValue(record.Value, out var origin))
            {
                problems.Add("phantom", $"{where}: {record} was never produced");
            }
            else if (origin.Append.Partition != partition)
            {
                problems.Add("phantom", $"{where}: {record} was produced for partition {origin.Append.Partition}");
            }
            else if (origin.Append.Outcome == AppendOutcome.Refused)
            {
                problems.Add("phantom", $"{where}: {record} belongs to a refused append: {origin.Append}");
            }
        }

        // A replica whose log ends before an acknowledged offset is behind (it did not converge), which is reported once
        // per replica; a record missing or replaced inside the replica's log is lost.
        var end = records.Count == 0 ? 0UL : records[^1].Offset + 1;
        var behind = 0;
        foreach (var append in appends)
        {
            if (append.Outcome == AppendOutcome.Acknowledged && append.Ack is { } ack)
            {
                for (var i = 0; i < append.Values.Length; i++)
                {
                    var offset = ack.FirstOffset + (ulong)i;
                    if (offset >= end)
                    {
                        behind++;
                    }
                    else if (!byOffset.TryGetValue(offset, out var held))
                    {
                        problems.Add("lost", $"{where}: acknowledged '{append.Values[i]}' (epoch {ack.Epoch} offset {offset}) is missing: {append}");
                    }
                    else if (held.Value != append.Values[i] || held.Epoch != ack.Epoch)
                    {
                        problems.Add("lost", $"{where}: acknowledged '{append.Values[i]}' (epoch {ack.Epoch} offset {offset}) is not there, {held} is: {append}");
                    }
                }
            }
            else if (append.Outcome == AppendOutcome.Unknown)
            {
                var found = append.Values.Select(v => byValue.TryGetValue(v, out var r) ? r : (ObservedRecord?)null).ToArray();
                var present = found.Count(r => r is not null);
                if (present == 0)
                {
                    continue;
                }

                var firstFound = found[0];
                var whole = present == found.Length
                    && firstFound is { } head
                    && found.Select((r, i) => r!.Value.Offset == head.Offset + (ulong)i && r.Value.Epoch == head.Epoch).All(ok => ok);
                if (!whole)
                {
                    problems.Add("partial", $"{where}: {present} of the {found.Length} records of an append of unknown outcome are there, not all together: {append}");
                }
            }
        }

        if (behind > 0)
        {
            problems.Add("behind", $"{where}: the final read ends at offset {end}, before {behind} acknowledged records");
        }

        return byOffset;
    }

    /// <summary>
    /// Acknowledged records that no replica's final read holds at all: not a lagging replica but records the partition
    /// cannot serve (lost, or kept only where no replica reads them), reported once per partition.
    /// </summary>
    private static void CheckHeldSomewhere(ProblemList problems, int partition, List<AppendEvent> appends, Dictionary<string, Dictionary<ulong, ObservedRecord>> byOffset)
    {
        var nowhere = new List<ulong>();
        foreach (var append in appends)
        {
            if (append.Outcome == AppendOutcome.Acknowledged && append.Ack is { } ack)
            {
                for (var i = 0; i < append.Values.Length; i++)
                {
                    var offset = ack.FirstOffset + (ulong)i;
                    if (!byOffset.Values.Any(replica => replica.TryGetValue(offset, out var held) && held.Value == append.Values[i]))
                    {
                        nowhere.Add(offset);
                    }
                }
            }
        }

        if (nowhere.Count > 0)
        {
            problems.Add("unreadable", $"partition {partition}: {nowhere.Count} acknowledged records are in no replica's final read (offsets {nowhere.Min()}..{nowhere.Max()})");
        }
    }

    private static void CheckReplicasAgree(ProblemList problems, int partition, Dictionary<string, Dictionary<ulong, ObservedRecord>> byOffset)
    {
        var replicas = byOffset.Keys.Order(StringComparer.Ordinal).ToList();
        for (var a = 0; a < replicas.Count; a++)
        {
            for (var b = a + 1; b < replicas.Count; b++)
            {
                foreach (var (offset, record) in byOffset[replicas[a]])
                {
                    if (byOffset[replicas[b]].TryGetValue(offset, out var other) && other != record)
                    {
                        problems.Add("diverged", $"partition {partition}: replica {replicas[a]} holds {record}, replica {replicas[b]} holds {other}");
                    }
                }
            }
        }
    }

    /// <summary>A read saw the committed prefix: every later read and every final read must show the same record at each offset it saw.</summary>
    private static void CheckReads(ProblemList problems, int partition, IEnumerable<ReadEvent> reads, Dictionary<string, Dictionary<ulong, ObservedRecord>> finals)
    {
        var seen = new Dictionary<ulong, (ObservedRecord Record, string Replica)>();
        var ends = finals.ToDictionary(f => f.Key, f => f.Value.Count == 0 ? 0UL : f.Value.Keys.Max() + 1);
        var beyond = finals.Keys.ToDictionary(k => k, _ => 0);
        foreach (var read in reads)
        {
            foreach (var record in read.Records)
            {
                if (seen.TryGetValue(record.Offset, out var earlier))
                {
                    if (earlier.Record != record)
                    {
                        problems.Add("changed", $"partition {partition}: a read from {earlier.Replica} showed {earlier.Record}, a later read from {read.Replica} shows {record}");
                    }
                }
                else
                {
                    seen.Add(record.Offset, (record, read.Replica));
                }

                foreach (var (replica, final) in finals)
                {
                    if (record.Offset >= ends[replica])
                    {
                        beyond[replica]++;
                    }
                    else if (!final.TryGetValue(record.Offset, out var held))
                    {
                        problems.Add("changed", $"partition {partition}: a read from {read.Replica} showed {record}; the final read of replica {replica} has no such offset");
                    }
                    else if (held != record)
                    {
                        problems.Add("changed", $"partition {partition}: a read from {read.Replica} showed {record}; the final read of replica {replica} shows {held}");
                    }
                }
            }
        }

        foreach (var (replica, count) in beyond.Where(b => b.Value > 0))
        {
            problems.Add("behind", $"partition {partition} replica {replica}: reads showed {count} records beyond the end of its final read (offset {ends[replica]})");
        }
    }
}
