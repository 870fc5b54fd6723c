namespace Pyralog.Client.Logs;

/// <summary>
/// A <see cref="LogProducer"/>'s state for one log (one log id: a log deleted and created again under its name is
/// another): its partitions' producers, created on first use, and the sticky partition of records without a key.
/// </summary>
internal sealed class ProducerLog(CachedLog cached, CachedLogs metadata)
{
    // Invariant: guarded by the producer's lock.
    private readonly PartitionProducer?[] _partitions = new PartitionProducer?[cached.Info.Partitions];
    private int _sticky = -1;

    // Records admitted under the producer's lock and being appended to a partition after it (read and written with Interlocked).
    private int _appending;

    /// <summary>The log's name (one log id has one name: no metadata lookup needed).</summary>
    public string Name => cached.Info.Name;

    /// <summary>The log as the client last read it (a replica move changes a partition's slots; a refresh is taken up at once).</summary>
    public CachedLog Cached => metadata.TryGet(cached.Info.Name, out var latest) && latest.Info.Id == cached.Info.Id ? latest : cached;

    public IEnumerable<PartitionProducer> Started
    {
        get
        {
            foreach (var partition in _partitions)
            {
                if (partition is not null)
                {
                    yield return partition;
                }
            }
        }
    }

    /// <summary>Whether nothing is being appended to the log's partitions and none has a record or batch unfinished (under the producer's lock).</summary>
    public bool Idle
    {
        get
        {
            if (Volatile.Read(ref _appending) != 0)
            {
                return false;
            }

            foreach (var partition in Started)
            {
                if (!partition.Idle)
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>A record admitted under the producer's lock is about to be appended to a partition (under the lock).</summary>
    public void AppendStarting() => Interlocked.Increment(ref _appending);

    /// <summary>The record announced by <see cref="AppendStarting"/> is in its partition's batch.</summary>
    public void AppendEnded() => Interlocked.Decrement(ref _appending);

    /// <summary>The partition producer (under the producer's lock).</summary>
    public PartitionProducer Partition(LogProducer producer, int partition, int seed) =>
        _partitions[partition] ??= new PartitionProducer(producer, this, partition, seed ^ partition);

    /// <summary>
    /// Where a record without a key goes (under the producer's lock): one partition until its batch is sealed, then the
    /// next, so keyless records fill whole batches (Kafka's sticky partitioner) and still spread over every partition.
    /// </summary>
    public int Sticky(Random random)
    {
        var sticky = Volatile.Read(ref _sticky);
        if (sticky < 0)
        {
            sticky = random.Next(_partitions.Length);
            Volatile.Write(ref _sticky, sticky);
        }

        return sticky;
    }

    /// <summary>A batch of <paramref name="partition"/> was sealed: keyless records move on to the next partition.</summary>
    public void Sealed(int partition) =>
        Interlocked.CompareExchange(ref _sticky, (partition + 1) % _partitions.Length, partition);
}
