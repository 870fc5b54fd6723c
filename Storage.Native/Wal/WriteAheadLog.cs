using System.Buffers.Binary;
using System.Security.Cryptography;
using Pyralog.Storage.Native.Devices;
using Pyralog.Storage.Native.Hashing;
using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native.Wal;

/// <summary>
/// One write-ahead log file. Format: a 16-byte header (magic "PYRW", version, two zero bytes, a random u64 salt drawn
/// whenever the file is created or recycled) then frames <c>[u32 length][u32 CRC32C(salt ‖ length ‖ payload)][payload]</c>
/// (versions 2 and 3, still read: an 8-byte header without salt, and CRC32C(length ‖ payload)), payload =
/// <c>[u64 sequence][i64 time ms][u32 op count][u64 WAL file number][i64 synced length][ops]</c>, the synced length
/// being how much of the file syncs had covered when the frame was sealed (version 2, still read, has
/// none). Frames are only appended; a crash can leave a torn
/// unsynced tail (the frames written since the last sync, of which the disk may have kept any pages), which recovery
/// drops: the writer never acknowledged it. The file is created and its directory entry synced before any
/// frame lands in it, and a file is synced in full, with a frame header of zeros marking its end, before its
/// successor is created, so only the newest file can be torn. Files are preallocated or recycled (see
/// <see cref="Create"/>), so the bytes after the last frame are zeros or a recycled file's stale frames, which name
/// another file number and are never mistaken for data (see <see cref="WalReader"/>). The salt keeps a frame that is only
/// bytes of a user's payload (copied into a record, left in a recycled file's stale region) from passing as a frame of
/// this file: its CRC cannot be computed without the salt, drawn after those bytes were written.
/// </summary>
internal sealed class WriteAheadLog : IDisposable
{
    public const uint Magic = 0x57525950; // "PYRW" little-endian
    public const ushort FormatVersion = 4;
    public const int HeaderBytes = 16;

    /// <summary>The header of format versions 2 and 3: magic, version, two zero bytes; no salt.</summary>
    public const int UnsaltedHeaderBytes = 8;

    /// <summary>Where the salt (u64) sits in a version 4 header.</summary>
    public const int SaltAt = 8;

    public const int PreallocatedBytes = 4 << 20;

    /// <summary>Bytes written since the file's last sync began after which <see cref="SyncBehind"/> starts a background fdatasync.</summary>
    public const long SyncBehindBytes = 8L << 20;

    private const long MaxGrowthBytes = 32L << 20;
    private static readonly byte[] Zeros = new byte[PreallocatedBytes];
    // The zero buffer repeated, for one gathered write of a region. Invariant: only Preallocate uses it.
    private readonly List<ReadOnlyMemory<byte>> _zeroRegions = [];
    private readonly DeviceFile _file;
    // Invariant: _position is the end of the last complete frame written; nothing after it was acknowledged.
    private long _position;
    // Invariant: [HeaderBytes, _syncedPosition) was covered by an fdatasync issued by Create, Complete or SyncOrUndo; <= _position.
    private long _syncedPosition;
    // Invariant: frames before _acknowledgedPosition were acknowledged without a sync (WriteBatch.SkipSync); a failed
    // sync never cuts back below it. _syncedPosition <= or >= it, both <= _position.
    private long _acknowledgedPosition;
    // The background fdatasync of frames acknowledged unsynced (SyncBehind): at most one at a time, replaced only by the
    // writer once the one before completed; _syncBehindFrom is where the file ended when the last sync (background or the
    // writer's) began. A failure it met is rethrown by every later sync, checked after that sync's own fdatasync: the
    // kernel reports a writeback error to one fdatasync of the file only, and a background one may run alongside.
    private Task _syncBehind = Task.CompletedTask;
    private long _syncBehindFrom = HeaderBytes;
    private Exception? _syncBehindFailure;
    // Every other fdatasync of the file (the writer's, a compaction's, the close's) runs under _syncGate, one at a time,
    // and the first failure one met stays in _syncFailure and fails every later one: whichever of two concurrent syncs
    // the kernel tells of a writeback error, the other, had it run alongside, would have succeeded over the lost pages
    // (a group acknowledged, or a compaction dropping records below a truncation that never reached the disk).
    private readonly Lock _syncGate = new();
    // Invariant (under _syncGate): the first failure of a sync under the gate; once set, no sync of the file succeeds.
    private IOException? _syncFailure;
    // Syncs waiting now for _syncGate, another sync holding it.
    private int _syncGateWaiters;
    // Where the file ended when a successful Sync began (an Interval store's syncs, a compaction's, the close's): those
    // bytes are on the disk. Only grows. Kept apart from _syncedPosition, which a failed sync's undo also reads.
    private long _syncedElsewhere;
    // Invariant: bytes in [_position, _allocatedEnd) are allocated (zeros or a recycled file's stale frames).
    private long _allocatedEnd;
    // The file's length when created or recycled: how far Preallocate has grown the file is measured from here.
    private readonly long _firstAllocatedEnd;

    private WriteAheadLog(long fileNumber, DeviceFile file, long position, uint crcSeed)
    {
        FileNumber = fileNumber;
        CrcSeed = crcSeed;
        _file = file;
        _position = position;
        _allocatedEnd = file.Length;
        _firstAllocatedEnd = _allocatedEnd;
    }

    public string Path => _file.Path;

    public long FileNumber { get; }

    /// <summary>The CRC32C of the file's salt: every frame's CRC starts from it (see <see cref="WriteBatch.Seal"/>).</summary>
    public uint CrcSeed { get; }

    public long Length => _position;

    /// <summary>How much of the file syncs have covered (the writer's: <see cref="Create"/>, <see cref="Complete"/>,
    /// <see cref="SyncOrUndo"/>; and <see cref="Sync"/>, from any thread): each frame carries it, so recovery tells a torn
    /// unsynced tail from damage to synced frames. Never past what was written. Writer only.</summary>
    public long SyncedLength => Math.Min(_position, Math.Max(_syncedPosition, Volatile.Read(ref _syncedElsewhere)));

    /// <summary>Whether <paramref name="bytes"/> more fit in the allocated (or recycled) space, so that writing them grows nothing.</summary>
    public bool Fits(long bytes) => _position + bytes <= _allocatedEnd;

    /// <summary>Highest sequence written to this file (0 when none).</summary>
    public ulong LastSequence { get; set; }

    public static string FileName(long fileNumber) => $"wal-{fileNumber:D10}.log";

    public static bool TryParseFileNumber(string fileName, out long fileNumber)
    {
        fileNumber = 0;
        return fileName.StartsWith("wal-", StringComparison.Ordinal) && fileName.EndsWith(".log", StringComparison.Ordinal)
            && long.TryParse(fileName.AsSpan(4, fileName.Length - 8), out fileNumber);
    }

    /// <summary>
    /// Creates a log file durably (file and directory entry synced). Appends are then overwrites of
    /// already-allocated blocks, so each fdatasync flushes data only, without a journal commit for a
    /// growing file size (about half the latency on ext4): the file is either a retired, fully flushed
    /// WAL renamed into place (<paramref name="recycle"/>) or a new file whose first
    /// <see cref="PreallocatedBytes"/> are written with zeros. Recovery tells the stale frames or zeros
    /// after the last frame from a torn write (see <see cref="WalReader"/>).
    /// </summary>
    public static WriteAheadLog Create(IStorageDevice device, string directory, long fileNumber, string? recycle = null)
    {
        var path = System.IO.Path.Combine(directory, FileName(fileNumber));
        if (recycle is not null)
        {
            // The new name is made durable before the new header is written: a salt that reached the disk while the
            // rename did not would leave the retired file, under its old name, with frames its header no longer seals.
            device.Move(recycle, path, overwrite: false);
            device.SyncDirectory(directory);
        }

        var file = device.Open(path, recycle is null ? FileMode.CreateNew : FileMode.Open);
        try
        {
            // Every file gets a header with a salt of its own, synced before a frame lands in it: a recycled file's stale
            // frames (and any frame-like bytes among them) were sealed under another salt. A new file gets the header
            // first: a crash before it leaves an empty file, after it a file that ends cleanly. A recycled file or a spare
            // is overwritten in place: the sync flushes data only. Until that sync, a recycled file keeps its old header,
            // and its stale frames read as another file's.
            var header = NewFileHeader(out var crcSeed);
            file.Write(header, 0);
            if (recycle is null)
            {
                file.Write(Zeros, HeaderBytes);
            }

            file.SyncData();
            if (recycle is null)
            {
                device.SyncDirectory(directory);
            }

            return new WriteAheadLog(fileNumber, file, HeaderBytes, crcSeed) { _syncedPosition = HeaderBytes };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Writes frames contiguously at the end (one gathered pwritev). A write is all or nothing: if
    /// the frames or the preallocation after them fail, the file is cut back to where the frames began and
    /// that length synced, so a write reported as failed is absent after a reopen.</summary>
    public void Write(IReadOnlyList<ReadOnlyMemory<byte>> frames, long totalBytes)
    {
        var start = _position;
        var framesWritten = false;
        try
        {
            _file.Write(frames, start);
            framesWritten = true;
            Preallocate(start + totalBytes);
            _position = start + totalBytes;
        }
        catch (Exception e) when (e is IOException or ArgumentOutOfRangeException or UnauthorizedAccessException)
        {
            // .NET reports a full disk as IOException but a file-size limit (EFBIG) as ArgumentOutOfRangeException:
            // both are the file system refusing the write, not bad input.
            var what = framesWritten
                ? $"could not preallocate zeros at byte {start + totalBytes} after {totalBytes} bytes of frames at byte {start}"
                : $"could not write {totalBytes} bytes of frames at byte {start}";
            throw new IOException($"write-ahead log '{Path}' {what}: {e.Message}; {CutBack(start)}", e);
        }
    }

    /// <summary>The file's length once <paramref name="bytes"/> more are written (with the zeros <see cref="Preallocate"/>
    /// would add after them).</summary>
    public long FileLengthAfter(long bytes)
    {
        var end = _position + bytes;
        return end <= _allocatedEnd ? _allocatedEnd : end + ((long)GrowthRegions(end) * PreallocatedBytes);
    }

    private int GrowthRegions(long end) => (int)Math.Clamp((end - _firstAllocatedEnd) / PreallocatedBytes, 1, MaxGrowthBytes / PreallocatedBytes);

    /// <summary>Once writes pass the zeroed (or recycled) region, zero a region after them: the sync that follows
    /// pays the file-size journal commit and the zeros' writeback once per region instead of once per write. A region
    /// is as large as the file grew past its first allocation (between <see cref="PreallocatedBytes"/> and
    /// <see cref="MaxGrowthBytes"/>), so a new file filling a 64 MiB memtable slows 5 syncs, not 16, and a recycled
    /// file that a memtable overfills by a little grows by a little.</summary>
    private void Preallocate(long end)
    {
        if (end <= _allocatedEnd)
        {
            return;
        }

        var regions = GrowthRegions(end);
        _zeroRegions.Clear();
        for (var i = 0; i < regions; i++)
        {
            _zeroRegions.Add(Zeros);
        }

        _file.Write(_zeroRegions, end);
        _allocatedEnd = end + ((long)regions * PreallocatedBytes);
    }

    /// <summary>
    /// Marks the end of the frames and syncs: done before a successor file exists, so every file but the newest is
    /// durable up to an explicit end. The mark is a frame header of zeros at the end position (or zeros up to the end of
    /// the file, when less room is left), written into allocated space: the sync flushes data only. Cutting the tail
    /// off instead (as recovery still does at open) made this a journal commit of freed blocks, 0.3-2.8 ms on the commit
    /// thread at every memtable swap, and the storage bench's p99.
    /// </summary>
    public void Complete()
    {
        var mark = (int)Math.Min(WriteBatch.HeaderBytes, _allocatedEnd - _position);
        if (mark > 0)
        {
            _file.Write(Zeros.AsSpan(0, mark), _position);
        }

        SyncUnderGate();
        AwaitSyncBehind();
        _syncedPosition = _position;
    }

    /// <summary>Everything written so far was acknowledged without a sync: a later failed sync must not undo it.</summary>
    public void MarkAcknowledged() => _acknowledgedPosition = _position;

    /// <summary>
    /// After frames acknowledged without a sync: once <see cref="SyncBehindBytes"/> more were written since the file's last
    /// sync began, starts an fdatasync of the file on a thread of its own and returns. Why: <see cref="Complete"/>
    /// runs on the commit thread at every memtable swap, and with a memtable's worth of unsynced frames before it (64 MiB)
    /// it held every commit of the store for 40-90 ms on this machine (the disk's cache flush pays for everything dirty),
    /// stalling a replicated log's whole pipeline; synced behind the writer, it finds a few MiB left (10 ms at most).
    /// Never throws: after a failed background sync it starts no more, and the next sync of the file (the swap's
    /// completion, a synced batch, a compaction's, the close's) throws that failure, which stops the store. Thrown here,
    /// it would fail a group whose frames are written and stay. Writer only.
    /// </summary>
    public void SyncBehind()
    {
        if (_position - _syncBehindFrom < SyncBehindBytes || !_syncBehind.IsCompleted || _syncBehindFailure is not null)
        {
            return;
        }

        _syncBehindFrom = _position;
        // A thread of its own: the writer waits for this sync at the next one of its own, and must not wait behind a
        // thread pool short of threads for it to start.
        Volatile.Write(ref _syncBehind, Task.Factory.StartNew(SyncBehindOnce, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default));
    }

    private void SyncBehindOnce()
    {
        try
        {
            _file.SyncData();
        }
        catch (ObjectDisposedException)
        {
            // Closed meanwhile (a rotation completes the file first; a faulted store's close syncs nothing).
        }
        catch (Exception e)
        {
            _syncBehindFailure = e;
        }
    }

    /// <summary>Waits for a background sync in flight and throws the failure any of them met (see <see cref="_syncBehindFailure"/>).</summary>
    private void AwaitSyncBehind()
    {
        Volatile.Read(ref _syncBehind).GetAwaiter().GetResult(); // never faults: SyncBehindOnce keeps its failure
        if (_syncBehindFailure is { } failure)
        {
            throw new IOException($"write-ahead log '{Path}' could not be synced in the background: {failure.Message}", failure);
        }
    }

    /// <summary>fdatasync of what the leader wrote. If it fails, the bytes written since the last sync are cut off (and
    /// the cut synced): the writes are reported as failed, so they must not turn up after a reopen, and after a failed
    /// fdatasync the kernel may keep them readable in the page cache without ever writing them — except frames acknowledged
    /// unsynced (<see cref="MarkAcknowledged"/>): those stay. Leader only.</summary>
    public void SyncOrUndo()
    {
        var end = _position;
        try
        {
            SyncUnderGate();
            AwaitSyncBehind(); // inside the try: a failure behind undoes this group as its own would
            _syncedPosition = end;
            _syncBehindFrom = Math.Max(_syncBehindFrom, end);
        }
        catch (IOException e)
        {
            var keep = Math.Max(_syncedPosition, _acknowledgedPosition);
            var unsynced = end - keep;
            _position = keep;
            throw new IOException(
                $"write-ahead log '{Path}' could not be synced: {e.Message}; the {unsynced} bytes written since the last sync are undone: {CutBack(keep)}", e);
        }
    }

    /// <summary>fdatasync; safe to call from another thread than the writer's (a compaction) and racing with <see cref="Dispose"/>.</summary>
    public void Sync()
    {
        try
        {
            var end = Volatile.Read(ref _position); // written before: the sync covers it
            SyncUnderGate();
            AwaitSyncBehind();
            for (var seen = Volatile.Read(ref _syncedElsewhere); seen < end;)
            {
                var was = Interlocked.CompareExchange(ref _syncedElsewhere, end, seen);
                seen = was == seen ? end : was;
            }
        }
        catch (ObjectDisposedException)
        {
            // Rotated and closed meanwhile: rotation synced the file before closing it.
        }
    }

    /// <summary>Syncs of the file that wait now for another to end (see <see cref="SyncUnderGate"/>).</summary>
    internal int SyncGateWaiters => Volatile.Read(ref _syncGateWaiters);

    /// <summary>One fdatasync under <see cref="_syncGate"/>, failing as the first failed one did (see <see cref="_syncFailure"/>).</summary>
    private void SyncUnderGate()
    {
        if (!_syncGate.TryEnter())
        {
            Interlocked.Increment(ref _syncGateWaiters);
            _syncGate.Enter();
            Interlocked.Decrement(ref _syncGateWaiters);
        }

        try
        {
            if (_syncFailure is { } failed)
            {
                throw new IOException($"write-ahead log '{Path}' failed an earlier sync: {failed.Message}", failed);
            }

            try
            {
                _file.SyncData();
            }
            catch (IOException e)
            {
                _syncFailure = e;
                throw;
            }
        }
        finally
        {
            _syncGate.Exit();
        }
    }

    public void Dispose() => _file.Dispose();

    /// <summary>A spare file's name: not a WAL name, so recovery never replays one (it deletes them).</summary>
    public static string SpareFileName(long fileNumber) => $"spare-wal-{fileNumber:D10}.tmp";

    public static bool IsSpareFileName(string fileName) =>
        fileName.StartsWith("spare-wal-", StringComparison.Ordinal) && fileName.EndsWith(".tmp", StringComparison.Ordinal);

    /// <summary>Writes a file of <paramref name="bytes"/> zeros after the header and syncs it, ahead of need: renamed into place
    /// by <see cref="Create"/> (as <c>recycle</c>), it lets a memtable swap start a WAL whose appends are
    /// overwrites of allocated blocks without zero-filling anything on the commit path.
    /// The zeros go to the disk a step at a time as they are written (each step waiting for the one before): written
    /// whole and synced at the end, a spare's 68 MiB held the disk for 40-60 ms, and the WAL syncs of that moment with it
    /// (the storage bench's p99 on a new store, before its first WAL could be recycled).</summary>
    public static void WriteSpare(IStorageDevice device, string path, long bytes)
    {
        // The same writeback step as a flush writing segments.
        const int step = SegmentWriter.WritebackBytes;
        using var writer = new BufferedFileWriter(device.Open(path, FileMode.CreateNew), step, step);
        writer.Write(NewFileHeader(out _)); // Create draws the salt again: a spare's is never used
        for (long at = HeaderBytes; at < bytes; at += step)
        {
            writer.Write(Zeros.AsSpan(0, (int)Math.Min(step, bytes - at)));
        }

        writer.FlushToDisk();
    }

    /// <summary>Magic, format version, two zero bytes, a salt from a cryptographic generator (a user who writes payloads
    /// must not be able to predict it); <paramref name="crcSeed"/> is its CRC32C.</summary>
    private static byte[] NewFileHeader(out uint crcSeed)
    {
        var header = new byte[HeaderBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), FormatVersion);
        RandomNumberGenerator.Fill(header.AsSpan(SaltAt));
        crcSeed = CrcSeedOf(header);
        return header;
    }

    /// <summary>What every frame's CRC starts from in a file with this header: the salt's CRC32C (version 4), or 0
    /// (versions 2 and 3: a plain CRC32C of the frame).</summary>
    public static uint CrcSeedOf(ReadOnlySpan<byte> header) =>
        BinaryPrimitives.ReadUInt16LittleEndian(header[4..]) >= 4 ? Crc32C.Compute(header.Slice(SaltAt, 8)) : 0;

    /// <summary>Cuts the file back to <paramref name="length"/> (dropping a failed write) and syncs the cut;
    /// says what happened, for the error message.</summary>
    private string CutBack(long length)
    {
        try
        {
            _file.SetLength(length);
            _allocatedEnd = length;
            _file.SyncData();
            return $"the file was cut back to {length} bytes";
        }
        catch (Exception e) when (e is IOException or ArgumentOutOfRangeException)
        {
            // Recovery still drops an incomplete frame; a complete one may survive. The original error is the one to raise.
            return $"cutting the file back to {length} bytes failed too ({e.Message}): the write may survive a reopen";
        }
    }
}
