using System.Buffers;
using System.Buffers.Binary;
using Pyralog.Storage.Native.Wal;

namespace Pyralog.Storage.Native;

/// <summary>
/// Log appends, puts and deletes applied atomically: all of them survive a crash or none does.
/// The batch encodes itself straight into its (pooled) WAL frame, so committing it copies nothing.
/// Reusable after <see cref="Clear"/>; not thread-safe.
/// </summary>
public sealed class WriteBatch : IDisposable
{
    /// <summary>Largest user key.</summary>
    public const int MaxKeyBytes = 64 * 1024;

    /// <summary>Largest value or log payload.</summary>
    public const int MaxValueBytes = 64 * 1024 * 1024;

    internal const int FrameHeaderBytes = 8;  // length + CRC
    internal const int PayloadHeaderBytes = 36; // sequence + timestamp + op count + WAL file number + synced length
    internal const int HeaderBytes = FrameHeaderBytes + PayloadHeaderBytes;
    private const int MaxFrameBytes = 1 << 30;

    private const int RunHeaderBytes = 21; // kind, log, first offset, count
    private const int TruncationBytes = 17; // kind, log, offset

    private byte[] _buffer;
    private int _length;
    private int _runHeader = -1;
    private LogOperation[] _logOperations = new LogOperation[4];
    private int _logOperationCount;
    private LogOperation _noOperation; // what LastLogOperation returns for an empty batch: never continued (no run header)

    public WriteBatch(int initialCapacity = 4096)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, HeaderBytes + 64));
        _length = HeaderBytes;
    }

    /// <summary>Operations in the batch.</summary>
    public int Count { get; private set; }

    /// <summary>Log records in the batch, over all logs.</summary>
    public int LogCount { get; private set; }

    /// <summary>
    /// In <see cref="DurabilityMode.PerBatch"/> stores: acknowledge this batch once it is written to the OS (the page
    /// cache) instead of after the WAL's fdatasync. A process crash loses nothing; a power loss may lose it (and any
    /// later batch of the same kind) until the next synced group or close. A commit group that also holds a batch
    /// without the flag is synced as usual (this one then waits for that sync too). Survives <see cref="Clear"/>.
    /// </summary>
    public bool SkipSync { get; set; }

    /// <summary>Set while the batch waits in (or is written by) a store's commit loop. Invariant: read and written
    /// under that store's queue lock; a queued batch is refused a second time (its one frame cannot carry two sequences).</summary>
    internal bool Queued { get; set; }

    /// <summary>Told on the commit thread when this batch commits (see <see cref="ICommittedWriteListener"/>); cleared by
    /// <see cref="Clear"/>.</summary>
    internal ICommittedWriteListener? CommittedListener { get; set; }

    /// <summary>True once disposed: such a batch is refused before it joins a commit group.</summary>
    public bool IsDisposed => _buffer.Length == 0;

    /// <summary>The log-space operations in batch order: what the store validates against each log's bounds.</summary>
    internal ReadOnlySpan<LogOperation> LogOperations => _logOperations.AsSpan(0, _logOperationCount);

    /// <summary>The encoded frame: header (filled at commit) followed by the operations.</summary>
    internal Memory<byte> Frame => _buffer.AsMemory(0, _length);

    internal Span<byte> FrameSpan => _buffer.AsSpan(0, _length);

    /// <summary>Adds record (<paramref name="epoch"/>, <paramref name="offset"/>) to log <paramref name="log"/>.
    /// A log's records must be appended at dense offsets with non-decreasing epochs; the store checks
    /// the offsets against the log when the batch is written.</summary>
    public void Append(ulong log, ulong epoch, ulong offset, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxValueBytes)
        {
            throw new ArgumentException($"log payload of {payload.Length} bytes exceeds the {MaxValueBytes}-byte limit", nameof(payload));
        }

        if (offset == ulong.MaxValue)
        {
            throw new ArgumentException("offset ulong.MaxValue is reserved", nameof(offset));
        }

        ref var last = ref LastLogOperation();
        var continues = _runHeader >= 0 && last.Log == log && last.Offset + (ulong)last.Count == offset;
        if (continues && epoch < last.LastEpoch)
        {
            throw new ArgumentException(
                $"epoch {epoch} at offset {offset} of log {log} is lower than the preceding record's epoch {last.LastEpoch}", nameof(epoch));
        }

        // Consecutive records of one log share one op: [kind][log][first offset][count], then per record
        // [length][epoch][payload] — laid out exactly like a memtable record, so recovery can leave
        // records in the mapped WAL instead of copying them.
        if (!continues)
        {
            var header = Reserve(RunHeaderBytes);
            header[0] = (byte)WalOp.LogAppend;
            BinaryPrimitives.WriteUInt64LittleEndian(header[1..], log);
            BinaryPrimitives.WriteUInt64LittleEndian(header[9..], offset);
            BinaryPrimitives.WriteInt32LittleEndian(header[17..], 0);
            _runHeader = _length - RunHeaderBytes;
            Count++;
            AddLogOperation(new LogOperation(log, WalOp.LogAppend, offset, 0, epoch));
        }

        var span = Reserve(12 + payload.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span, payload.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(span[4..], epoch);
        payload.CopyTo(span[12..]);
        var runCount = _buffer.AsSpan(_runHeader + 17, 4);
        BinaryPrimitives.WriteInt32LittleEndian(runCount, BinaryPrimitives.ReadInt32LittleEndian(runCount) + 1);
        ref var run = ref LastLogOperation();
        run.Count++;
        run.LastEpoch = epoch;
        LogCount++;
    }

    /// <summary>Removes log <paramref name="log"/>'s records at and after <paramref name="offset"/> (a Raft
    /// follower's divergent suffix); appends after it in the same batch continue at <paramref name="offset"/>.</summary>
    public void TruncateSuffix(ulong log, ulong offset) => AddTruncation(WalOp.TruncateSuffix, log, offset);

    /// <summary>Removes log <paramref name="log"/>'s records below <paramref name="offset"/>. Past the end it
    /// empties the log, which then continues at <paramref name="offset"/>.</summary>
    public void TruncatePrefix(ulong log, ulong offset) => AddTruncation(WalOp.TruncatePrefix, log, offset);

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/> in the key/value space.</summary>
    public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        ValidateKey(key);
        if (value.Length > MaxValueBytes)
        {
            throw new ArgumentException($"value of {value.Length} bytes exceeds the {MaxValueBytes}-byte limit", nameof(value));
        }

        _runHeader = -1;
        var span = Reserve(1 + 4 + 4 + key.Length + value.Length);
        span[0] = (byte)WalOp.Put;
        BinaryPrimitives.WriteInt32LittleEndian(span[1..], key.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span[5..], value.Length);
        key.CopyTo(span[9..]);
        value.CopyTo(span[(9 + key.Length)..]);
        Count++;
    }

    /// <summary>Removes <paramref name="key"/> from the key/value space.</summary>
    public void Delete(ReadOnlySpan<byte> key)
    {
        ValidateKey(key);
        _runHeader = -1;
        var span = Reserve(1 + 4 + key.Length);
        span[0] = (byte)WalOp.Delete;
        BinaryPrimitives.WriteInt32LittleEndian(span[1..], key.Length);
        key.CopyTo(span[5..]);
        Count++;
    }

    /// <summary>Empties the batch for reuse.</summary>
    public void Clear()
    {
        _length = HeaderBytes;
        _runHeader = -1;
        Count = 0;
        LogCount = 0;
        _logOperationCount = 0;
        CommittedListener = null;
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        _length = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void AddTruncation(WalOp op, ulong log, ulong offset)
    {
        _runHeader = -1;
        var span = Reserve(TruncationBytes);
        span[0] = (byte)op;
        BinaryPrimitives.WriteUInt64LittleEndian(span[1..], log);
        BinaryPrimitives.WriteUInt64LittleEndian(span[9..], offset);
        Count++;
        AddLogOperation(new LogOperation(log, op, offset, 0, 0));
    }

    private ref LogOperation LastLogOperation()
    {
        if (_logOperationCount == 0)
        {
            return ref _noOperation;
        }

        return ref _logOperations[_logOperationCount - 1];
    }

    private void AddLogOperation(LogOperation operation)
    {
        if (_logOperationCount == _logOperations.Length)
        {
            Array.Resize(ref _logOperations, _logOperations.Length * 2);
        }

        _logOperations[_logOperationCount++] = operation;
    }

    /// <summary>Fills the frame header for sequence number <paramref name="sequence"/> in WAL file <paramref name="walFileNumber"/>
    /// (recovery tells a recycled file's stale frames by it), with <paramref name="syncedLength"/>, how much of the file
    /// an fdatasync of the writer had covered when the frame was sealed (recovery tells a torn unsynced tail from damaged
    /// acknowledged data by it); the CRC covers the WAL file's salt, length and payload.</summary>
    /// <param name="crcSeed">The WAL file's <see cref="Wal.WriteAheadLog.CrcSeed"/>: the CRC covers the file's salt.</param>
    internal void Seal(ulong sequence, long timestampMs, long walFileNumber, long syncedLength, uint crcSeed)
    {
        var frame = _buffer.AsSpan(0, _length);
        BinaryPrimitives.WriteInt32LittleEndian(frame, _length - FrameHeaderBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(frame[8..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(frame[16..], timestampMs);
        BinaryPrimitives.WriteInt32LittleEndian(frame[24..], Count);
        BinaryPrimitives.WriteInt64LittleEndian(frame[28..], walFileNumber);
        BinaryPrimitives.WriteInt64LittleEndian(frame[36..], syncedLength);
        var crc = Hashing.Crc32C.Append(Hashing.Crc32C.Append(crcSeed, frame[..4]), frame[FrameHeaderBytes..]);
        BinaryPrimitives.WriteUInt32LittleEndian(frame[4..], crc);
    }

    private static void ValidateKey(ReadOnlySpan<byte> key)
    {
        if (key.IsEmpty)
        {
            throw new ArgumentException("key must not be empty", nameof(key));
        }

        if (key.Length > MaxKeyBytes)
        {
            throw new ArgumentException($"key of {key.Length} bytes exceeds the {MaxKeyBytes}-byte limit", nameof(key));
        }
    }

    private Span<byte> Reserve(int bytes)
    {
        ObjectDisposedException.ThrowIf(_buffer.Length == 0, this);
        var needed = (long)_length + bytes;
        if (needed > MaxFrameBytes)
        {
            throw new ArgumentException($"write batch would exceed {MaxFrameBytes} bytes; split it");
        }

        if (needed > _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(MaxFrameBytes, Math.Max(needed, (long)_buffer.Length * 2)));
            _buffer.AsSpan(0, _length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        var span = _buffer.AsSpan(_length, bytes);
        _length += bytes;
        return span;
    }
}
