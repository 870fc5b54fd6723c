using System.Buffers.Binary;
using Pyralog.Consensus;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Replication;

/// <summary>
/// A replica's durable Raft state in the silo store (<see cref="ReplicaKv"/> says where): what the node starts from
/// (<see cref="IRaftStorage"/>), the reader for entries evicted from its cache, and the writer that turns one
/// <see cref="PersistBatch"/> into one atomic store <see cref="WriteBatch"/> — snapshot, entries (a suffix truncation
/// first when they overwrite), the metadata (term runs and configuration history, rewritten only when they change)
/// and the hard state. One batch is all or nothing, so the parts never disagree after a crash.
/// Invariant: <see cref="Metadata"/> and <see cref="HardState"/> describe the log as it is once every batch built so far
/// is written (the builder updates them as it builds; the store applies batches in the order they were queued).
/// </summary>
internal sealed class ReplicaStorage : IRaftStorage
{
    private readonly PyramidStore _store;
    private readonly byte[] _hardStateKey;
    private readonly byte[] _metadataKey;
    private readonly byte[] _snapshotKey;
    private const int MaxKeptPayloadBytes = 4 << 20;

    // Scratch for one entry's stored form; WriteBatch.Append copies it. Invariant: used only while building one batch
    // (a replica builds its batches one at a time, in its own turns).
    private byte[] _payload = new byte[256];

    private ReplicaStorage(PyramidStore store, ulong storeLog, HardState hardState, LogMetadata metadata)
    {
        _store = store;
        StoreLog = storeLog;
        HardState = hardState;
        Metadata = metadata;
        _hardStateKey = ReplicaKv.Key(storeLog, ReplicaKv.HardState);
        _metadataKey = ReplicaKv.Key(storeLog, ReplicaKv.LogMetadata);
        _snapshotKey = ReplicaKv.Key(storeLog, ReplicaKv.Snapshot);
    }

    public ulong StoreLog { get; }

    public HardState HardState { get; private set; }

    public LogMetadata Metadata { get; }

    /// <summary>True when nothing was ever recorded for this replica here (no incarnation, no entries).</summary>
    public bool IsEmpty => HardState.Incarnation == 0 && Metadata.LastIndex == 0;

    /// <summary>The incarnation whose state <paramref name="store"/> holds under <paramref name="storeLog"/>; 0 when it holds none.</summary>
    /// <exception cref="InvalidDataException">The stored hard state is damaged (named).</exception>
    public static async Task<long> ReadIncarnationAsync(PyramidStore store, ulong storeLog) =>
        await store.GetAsync(ReplicaKv.Key(storeLog, ReplicaKv.HardState)).ConfigureAwait(false) is { } h ? DecodeHardState(h).Incarnation : 0;

    /// <summary>Reads a replica's state back (nothing is scanned but its few keys).</summary>
    /// <exception cref="InvalidDataException">The stored state contradicts itself (named).</exception>
    public static async Task<ReplicaStorage> OpenAsync(PyramidStore store, ulong storeLog)
    {
        var hard = await store.GetAsync(ReplicaKv.Key(storeLog, ReplicaKv.HardState)).ConfigureAwait(false) is { } h ? DecodeHardState(h) : default;
        var snapshot = await store.GetAsync(ReplicaKv.Key(storeLog, ReplicaKv.Snapshot)).ConfigureAwait(false) is { } s ? DecodeSnapshot(s) : RaftSnapshot.Empty;
        var bounds = store.GetLogBounds(storeLog);
        var lastIndex = bounds.Next == 0 ? snapshot.Index : (long)bounds.Next - 1;
        LogMetadata metadata;
        if (await store.GetAsync(ReplicaKv.Key(storeLog, ReplicaKv.LogMetadata)).ConfigureAwait(false) is { } m)
        {
            var (runs, configs) = DecodeMetadata(m);
            try
            {
                metadata = LogMetadata.FromPersisted(snapshot, lastIndex, runs, configs);
            }
            catch (ArgumentException e)
            {
                throw new InvalidDataException($"the Raft metadata of store log {storeLog} contradicts its log: {e.Message}", e);
            }
        }
        else if (lastIndex != snapshot.Index)
        {
            throw new InvalidDataException($"store log {storeLog} holds Raft entries up to {lastIndex} but no Raft metadata");
        }
        else
        {
            metadata = new LogMetadata(snapshot);
        }

        return new ReplicaStorage(store, storeLog, hard, metadata);
    }

    public void ReadEntries(long lo, long hi, long maxBytes, List<LogEntry> into)
    {
        long bytes = 0;
        using var cursor = _store.ReadLog(StoreLog, (ulong)lo, (ulong)hi);
        var expected = lo;
        while (cursor.MoveNext())
        {
            if ((long)cursor.Offset != expected)
            {
                throw new InvalidDataException($"store log {StoreLog} has no Raft entry {expected} (found {cursor.Offset})");
            }

            var payload = cursor.Payload;
            var entry = new LogEntry(expected, (long)cursor.Epoch, (EntryType)payload[0], payload[1..].ToArray());
            bytes += entry.Size;
            if (bytes > maxBytes && expected > lo)
            {
                return;
            }

            into.Add(entry);
            expected++;
        }

        if (expected < hi)
        {
            throw new InvalidDataException($"store log {StoreLog} ends at Raft entry {expected - 1}, before {hi - 1}");
        }
    }

    /// <summary>
    /// Where a restarted node resumes handing committed entries to a state machine that applied up to
    /// <paramref name="machineApplied"/>: never past what this replica knows is committed (its hard state's commit, or its
    /// snapshot). A commit index is written without an fdatasync (see <see cref="OnlyCommitMoved"/>), so after a power loss
    /// it may be older than the applied state; the entries between come again, and the machine skips them.
    /// </summary>
    public long RestartApplied(long machineApplied) => Math.Min(machineApplied, Math.Max(HardState.Commit, Metadata.Snapshot.Index));

    /// <summary>Records this replica's incarnation before the node runs (a replica without data starting fresh).</summary>
    public async Task RecordIncarnationAsync(long incarnation, CancellationToken cancellationToken)
    {
        var hard = HardState with { Incarnation = incarnation };
        using var batch = new WriteBatch();
        batch.Put(_hardStateKey, EncodeHardState(hard));
        await _store.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        HardState = hard;
    }

    /// <summary>
    /// Starts a group: the first configuration as committed entry 1 of term 1, identical on every bootstrapped member
    /// (a member that joins later learns it from the log), and the hard state that commits it.
    /// </summary>
    public async Task BootstrapAsync(ClusterConfig config, CancellationToken cancellationToken)
    {
        var entry = new LogEntry(1, 1, EntryType.Config, config.Encode());
        using var write = Build(null, [entry], new HardState(1, 0, 1, 0, HardState.Incarnation), hardStateChanged: true, skipSync: false);
        await _store.WriteAsync(write, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The store batch for one persist (update of <see cref="Metadata"/> and <see cref="HardState"/> included).</summary>
    public WriteBatch Build(PersistBatch batch, bool skipSync) =>
        Build(batch.Snapshot, batch.Entries, batch.HardState, batch.HardStateChanged, skipSync);

    /// <summary>The store batch for a snapshot, entries and hard state (what a <see cref="PersistBatch"/> carries).</summary>
    internal WriteBatch Build(RaftSnapshot? receivedSnapshot, LogEntry[] entries, HardState hardState, bool hardStateChanged, bool skipSync)
    {
        // An os-cache log (skipSync) acknowledges entries from page caches, but a term or a vote is synced all the same
        // (one fdatasync per election, as etcd does): a vote lost to a power cut lets the replica vote again in the same
        // term, two leaders of one term write different entries at one index, and the replicas disagree for good.
        var electionMoved = hardStateChanged && !OnlyCommitMoved(HardState, hardState);
        var mustSync = receivedSnapshot is not null || entries.Length > 0 || electionMoved;
        var write = new WriteBatch(4096 + EstimateBytes(entries)) { SkipSync = !mustSync || (skipSync && !electionMoved) };
        var metadataChanged = false;
        if (receivedSnapshot is { } snapshot)
        {
            // The snapshot replaces the whole log: empty it, then make it continue right after the snapshot.
            if (Metadata.LastIndex > Metadata.Snapshot.Index)
            {
                write.TruncateSuffix(StoreLog, (ulong)Metadata.Snapshot.Index + 1);
            }

            write.TruncatePrefix(StoreLog, (ulong)snapshot.Index + 1);
            write.Put(_snapshotKey, EncodeSnapshot(snapshot));
            Metadata.Restore(snapshot);
            metadataChanged = true;
        }

        if (entries.Length > 0)
        {
            var first = entries[0].Index;
            if (first <= Metadata.LastIndex)
            {
                write.TruncateSuffix(StoreLog, (ulong)first);
            }

            var runs = Metadata.Runs.Count;
            var lastRun = Metadata.Runs[^1];
            foreach (ref readonly var e in entries.AsSpan())
            {
                write.Append(StoreLog, (ulong)e.Term, (ulong)e.Index, EntryPayload(e));
            }

            if (_payload.Length > MaxKeptPayloadBytes)
            {
                _payload = new byte[256]; // a huge entry's buffer is not kept
            }

            metadataChanged |= Metadata.Append(entries);
            metadataChanged |= Metadata.Runs.Count != runs || Metadata.Runs[^1] != lastRun;
        }

        if (metadataChanged)
        {
            write.Put(_metadataKey, EncodeMetadata(Metadata));
        }

        if (hardStateChanged)
        {
            write.Put(_hardStateKey, EncodeHardState(hardState));
            HardState = hardState;
        }

        return write;
    }

    /// <summary>
    /// True when the hard state differs from what was written only in its commit index. Such a write needs no fdatasync
    /// (etcd's MustSync): nothing it holds was promised to another node, and a commit index lost to a power loss is learnt
    /// again from the leader; the replica then re-applies from the older commit (its state machine skips what it already
    /// applied). Synced, it was a second fdatasync per append on every replica (each commit moves every hard state), and
    /// the next append's write queued behind it.
    /// </summary>
    private static bool OnlyCommitMoved(HardState written, HardState next) => next with { Commit = written.Commit } == written;

    /// <summary>
    /// The store batch for a local snapshot the node took (<see cref="RaftNode.CreateSnapshot"/>): the snapshot record,
    /// the metadata compacted to it (<see cref="LogMetadata.Compact"/>) and the store log's prefix up to it truncated.
    /// </summary>
    public WriteBatch Compact(RaftSnapshot snapshot, bool skipSync)
    {
        Metadata.Compact(snapshot);
        var write = new WriteBatch(256 + snapshot.Data.Length) { SkipSync = skipSync };
        write.Put(_snapshotKey, EncodeSnapshot(snapshot));
        write.Put(_metadataKey, EncodeMetadata(Metadata));
        write.TruncatePrefix(StoreLog, (ulong)snapshot.Index + 1);
        return write;
    }

    /// <summary>Drops everything this replica keeps; with <paramref name="tombstone"/> leaves a mark that its log was deleted.</summary>
    public void DeleteAll(WriteBatch write, bool tombstone) => ReplicaKv.DropAll(_store, StoreLog, write, tombstone);

    private static int EstimateBytes(LogEntry[] entries)
    {
        long bytes = 0;
        foreach (ref readonly var e in entries.AsSpan())
        {
            bytes += e.Data.Length + 32;
        }

        return (int)Math.Min(bytes, 64 << 20);
    }

    /// <summary>The stored form of an entry (type byte, data) in the scratch buffer, valid until the next call.</summary>
    private ReadOnlySpan<byte> EntryPayload(in LogEntry e)
    {
        var length = 1 + e.Data.Length;
        if (_payload.Length < length)
        {
            _payload = new byte[Math.Max(length, _payload.Length * 2)];
        }

        _payload[0] = (byte)e.Type;
        e.Data.Span.CopyTo(_payload.AsSpan(1));
        return _payload.AsSpan(0, length);
    }

    private static byte[] EncodeHardState(HardState h)
    {
        var buffer = new byte[40];
        BinaryPrimitives.WriteInt64LittleEndian(buffer, h.Term);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(8), h.Vote);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(16), h.Commit);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(24), h.VoteIncarnation);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(32), h.Incarnation);
        return buffer;
    }

    private static HardState DecodeHardState(byte[] b) => b.Length == 40
        ? new HardState(
            BinaryPrimitives.ReadInt64LittleEndian(b), BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(8)), BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(16)),
            BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(24)), BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(32)))
        : throw new InvalidDataException($"a Raft hard state record has {b.Length} bytes, not 40");

    private static byte[] EncodeSnapshot(RaftSnapshot s)
    {
        var config = s.Config.Encode();
        var buffer = new byte[20 + config.Length + 4 + s.Data.Length];
        BinaryPrimitives.WriteInt64LittleEndian(buffer, s.Index);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(8), s.Term);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(16), config.Length);
        config.CopyTo(buffer, 20);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(20 + config.Length), s.Data.Length);
        s.Data.Span.CopyTo(buffer.AsSpan(24 + config.Length));
        return buffer;
    }

    private static RaftSnapshot DecodeSnapshot(byte[] b)
    {
        var configLength = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(16));
        var config = ClusterConfig.Decode(b.AsSpan(20, configLength));
        var dataLength = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(20 + configLength));
        return new RaftSnapshot(
            BinaryPrimitives.ReadInt64LittleEndian(b), BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(8)), config,
            b.AsMemory(24 + configLength, dataLength));
    }

    private static byte[] EncodeMetadata(LogMetadata meta)
    {
        var configs = new List<byte[]>(meta.Configs.Count);
        var size = 4 + meta.Runs.Count * 16 + 4;
        foreach (var c in meta.Configs)
        {
            var encoded = c.Config.Encode();
            configs.Add(encoded);
            size += 12 + encoded.Length;
        }

        var buffer = new byte[size];
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, meta.Runs.Count);
        var at = 4;
        foreach (var run in meta.Runs)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[at..], run.FirstIndex);
            BinaryPrimitives.WriteInt64LittleEndian(span[(at + 8)..], run.Term);
            at += 16;
        }

        BinaryPrimitives.WriteInt32LittleEndian(span[at..], configs.Count);
        at += 4;
        for (var i = 0; i < configs.Count; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[at..], meta.Configs[i].Index);
            BinaryPrimitives.WriteInt32LittleEndian(span[(at + 8)..], configs[i].Length);
            configs[i].CopyTo(span[(at + 12)..]);
            at += 12 + configs[i].Length;
        }

        return buffer;
    }

    private static (List<TermRun> Runs, List<ConfigEntry> Configs) DecodeMetadata(byte[] b)
    {
        var span = b.AsSpan();
        var runs = new List<TermRun>(BinaryPrimitives.ReadInt32LittleEndian(span));
        var at = 4;
        for (var i = runs.Capacity; i > 0; i--, at += 16)
        {
            runs.Add(new TermRun(BinaryPrimitives.ReadInt64LittleEndian(span[at..]), BinaryPrimitives.ReadInt64LittleEndian(span[(at + 8)..])));
        }

        var configs = new List<ConfigEntry>(BinaryPrimitives.ReadInt32LittleEndian(span[at..]));
        at += 4;
        for (var i = configs.Capacity; i > 0; i--)
        {
            var index = BinaryPrimitives.ReadInt64LittleEndian(span[at..]);
            var length = BinaryPrimitives.ReadInt32LittleEndian(span[(at + 8)..]);
            configs.Add(new ConfigEntry(index, ClusterConfig.Decode(span.Slice(at + 12, length))));
            at += 12 + length;
        }

        return (runs, configs);
    }
}
