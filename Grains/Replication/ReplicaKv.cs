using System.Buffers.Binary;

namespace Pyralog.Grains.Replication;

/// <summary>
/// Where a replica keeps its state in the silo store. Its Raft log is the store log <see cref="StoreLog"/> (Raft index
/// = store offset, term = the record's epoch field, payload = entry type byte + data); the rest are keys of the store's
/// KV space under <c>'R' ‖ store log (big-endian)</c>, so one replica's keys are contiguous and one prefix scan finds
/// them all: <c>h</c> hard state, <c>m</c> term runs and configuration history, <c>n</c> snapshot, <c>a</c> the state
/// machine's applied state, <c>s</c> the log's settings, <c>o ‖ last offset</c> the partition's offset index (see PartitionState),
/// <c>p ‖ producer id</c> an idempotent producer's last batches (see ProducerTable), <c>x</c> the tombstone a deleted
/// log's replica leaves (all it keeps: a late message must not revive it).
/// </summary>
internal static class ReplicaKv
{
    public const byte HardState = (byte)'h';
    public const byte LogMetadata = (byte)'m';
    public const byte Snapshot = (byte)'n';
    public const byte Applied = (byte)'a';
    public const byte OffsetIndex = (byte)'o';
    public const byte Settings = (byte)'s';
    public const byte Producers = (byte)'p';
    public const byte Deleted = (byte)'x';

    /// <summary>How many times a replica slot can start afresh on one silo (see <see cref="StoreLog"/>).</summary>
    public const int Generations = 32;

    /// <summary>
    /// The store log of a replica: log id (up to 2^40) ‖ partition (16 bits) ‖ generation (5 bits) ‖ replica slot (3
    /// bits). User logs have ids from 1; the metadata group is log 0, so its replicas never share a store log with a
    /// partition's. The generation exists because a store log emptied by a truncation continues at its old end, while a
    /// replica that starts afresh needs its Raft log to start at index 1: a slot that moved away from this silo (its data
    /// dropped) and comes back later starts in the next generation's store log (<see cref="FindAsync"/>).
    /// </summary>
    public static ulong StoreLog(ulong log, int partition, int replica, int generation = 0) =>
        (log << 24) | ((ulong)(uint)partition << 8) | ((ulong)(uint)generation << 3) | (uint)replica;

    /// <summary>
    /// The store log of replica (<paramref name="log"/>, <paramref name="partition"/>, <paramref name="replica"/>) on this
    /// silo: the first generation that holds its state, or was deleted with its log (tombstone), or was never used (a
    /// fresh start); generations whose data a move dropped are skipped.
    /// </summary>
    /// <exception cref="InvalidOperationException">Every generation was used and dropped.</exception>
    public static async Task<(ulong StoreLog, bool Deleted)> FindAsync(Storage.Native.PyramidStore store, ulong log, int partition, int replica, CancellationToken cancellationToken = default)
    {
        for (var generation = 0; generation < Generations; generation++)
        {
            var storeLog = StoreLog(log, partition, replica, generation);
            if (await store.GetAsync(Key(storeLog, Deleted), cancellationToken).ConfigureAwait(false) is not null)
            {
                return (storeLog, true);
            }

            if (await store.GetAsync(Key(storeLog, HardState), cancellationToken).ConfigureAwait(false) is not null || store.GetLogBounds(storeLog).Next == 0)
            {
                return (storeLog, false);
            }
        }

        throw new InvalidOperationException(
            $"replica {log}/{partition}/{replica} moved away from this silo and back {Generations} times: it has no fresh store log left here");
    }

    /// <summary>Adds the deletion of everything stored for <paramref name="storeLog"/> to <paramref name="write"/> (its log
    /// emptied, its keys deleted); with <paramref name="tombstone"/> leaves a mark that its log was deleted.</summary>
    public static void DropAll(Storage.Native.PyramidStore store, ulong storeLog, Storage.Native.WriteBatch write, bool tombstone)
    {
        var bounds = store.GetLogBounds(storeLog);
        if (!bounds.IsEmpty)
        {
            write.TruncatePrefix(storeLog, bounds.Next);
        }

        using var keys = store.ScanKvPrefix(Prefix(storeLog));
        while (keys.MoveNext())
        {
            write.Delete(keys.Key);
        }

        if (tombstone)
        {
            write.Put(Key(storeLog, Deleted), [1]);
        }
    }

    /// <summary>
    /// The store logs that hold some replica's keys in <paramref name="store"/>, ascending (one seek per store log: every
    /// replica that ever ran keeps at least its hard state, and dropping it removes every key).
    /// </summary>
    public static List<ulong> StoreLogsWithState(Storage.Native.PyramidStore store)
    {
        var found = new List<ulong>();
        var from = Prefix(0);
        var end = new byte[] { (byte)'R' + 1 };
        while (true)
        {
            using var cursor = store.ScanKv(from, end);
            if (!cursor.MoveNext() || cursor.Key.Length < 9)
            {
                return found;
            }

            var storeLog = BinaryPrimitives.ReadUInt64BigEndian(cursor.Key[1..9]);
            found.Add(storeLog);
            if (storeLog == ulong.MaxValue)
            {
                return found;
            }

            from = Prefix(storeLog + 1);
        }
    }

    /// <summary>
    /// Whether <paramref name="store"/> holds the Raft log of some partition's replica (any log but the metadata group's):
    /// a replica gets one only from a founded metadata group. An incarnation alone does not count (any call to a replica
    /// key records one, a stale client's too), nor does a deleted log's tombstone.
    /// </summary>
    public static async Task<bool> HoldsPartitionLogAsync(Storage.Native.PyramidStore store)
    {
        foreach (var storeLog in StoreLogsWithState(store))
        {
            if (ReplicaOf(storeLog).Log != 0 && await store.GetAsync(Key(storeLog, LogMetadata)).ConfigureAwait(false) is not null)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A silo-wide key: this silo's store has seen the metadata group founded (it read the group's state once). Kept
    /// outside the replicas' 'R' keys, so no replica's drop removes it.
    /// </summary>
    private static readonly byte[] SawFoundedGroupKey = "Pyralog.MetadataGroupFounded"u8.ToArray();

    /// <summary>Records in <paramref name="store"/> that the silo met a founded metadata group (idempotent; unsynced is enough:
    /// it is written again at the next start that reads the group).</summary>
    public static async Task RecordSawFoundedGroupAsync(Storage.Native.PyramidStore store)
    {
        if (!await SawFoundedGroupAsync(store).ConfigureAwait(false))
        {
            await store.PutAsync(SawFoundedGroupKey, new byte[] { 1 }).ConfigureAwait(false);
        }
    }

    /// <summary>Whether <paramref name="store"/>'s silo met a founded metadata group before (see <see cref="RecordSawFoundedGroupAsync"/>).</summary>
    public static async Task<bool> SawFoundedGroupAsync(Storage.Native.PyramidStore store) =>
        await store.GetAsync(SawFoundedGroupKey).ConfigureAwait(false) is not null;

    /// <summary>The replica a store log belongs to (the inverse of <see cref="StoreLog"/>, without the generation).</summary>
    public static (ulong Log, int Partition, int Replica) ReplicaOf(ulong storeLog) =>
        (storeLog >> 24, (int)((storeLog >> 8) & 0xFFFF), (int)(storeLog & 7));

    public static byte[] Prefix(ulong storeLog)
    {
        var key = new byte[9];
        key[0] = (byte)'R';
        BinaryPrimitives.WriteUInt64BigEndian(key.AsSpan(1), storeLog);
        return key;
    }

    public static byte[] Key(ulong storeLog, byte kind)
    {
        var key = new byte[10];
        Prefix(storeLog).CopyTo(key, 0);
        key[9] = kind;
        return key;
    }

    /// <summary>The offset-index key of the entry whose last record has <paramref name="lastOffset"/>: a forward scan from
    /// the key of any offset finds the entry holding it first (offsets are dense, entries cover disjoint ranges).</summary>
    public static byte[] OffsetKey(ulong storeLog, ulong lastOffset)
    {
        var key = new byte[OffsetKeyBytes];
        WriteOffsetKey(key, storeLog, lastOffset);
        return key;
    }

    public const int OffsetKeyBytes = 18;

    /// <summary>Writes <see cref="OffsetKey"/> into <paramref name="key"/> (the apply path writes one per entry).</summary>
    public static void WriteOffsetKey(Span<byte> key, ulong storeLog, ulong lastOffset)
    {
        key[0] = (byte)'R';
        BinaryPrimitives.WriteUInt64BigEndian(key[1..], storeLog);
        key[9] = OffsetIndex;
        BinaryPrimitives.WriteUInt64BigEndian(key[10..], lastOffset);
    }
}
