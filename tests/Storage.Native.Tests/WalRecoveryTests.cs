using System.Text;

namespace Pyralog.Storage.Native.Tests;

public class WalRecoveryTests
{
    private const ulong Log = 1;

    private static readonly PyramidOptions NoBackground = new() { BackgroundWork = false };

    private const int WalHeader = Wal.WriteAheadLog.HeaderBytes;

    /// <summary>Bytes of one frame of <see cref="WriteRecordsAsync"/>: header, one append op, one "record-N" (N &lt; 10).</summary>
    private static readonly int RecordFrameBytes = WriteBatch.HeaderBytes + 21 + 12 + "record-0".Length;

    [Fact]
    public async Task A_wal_file_that_outgrows_its_memtable_is_closed_before_it_grows_past_what_recovery_replays()
    {
        using var dir = new TempDirectory();
        const long maxWal = 12 << 20;
        var options = new PyramidOptions { MemtableBytes = 4 << 20, MaxWalFileBytes = maxWal, BackgroundWork = false };
        const int batches = 200;
        await using (var store = PyramidStore.Open(dir.Path, options))
        {
            // Each batch: one record (a few bytes of memtable) and 5,000 truncations that change nothing (85 KB of WAL
            // frame, none of memtable), so the WAL would reach 17 MB while its memtable holds a few KB.
            using var batch = new WriteBatch();
            for (var i = 0; i < batches; i++)
            {
                batch.Clear();
                batch.Append(Log, 1, (ulong)i, Encoding.UTF8.GetBytes($"record-{i}"));
                for (var t = 0; t < 5_000; t++)
                {
                    batch.TruncatePrefix(Log, 0);
                }

                await store.WriteAsync(batch);
                Assert.All(Directory.GetFiles(dir.Path, "wal-*.log"), wal => Assert.InRange(new FileInfo(wal).Length, 0, maxWal));
            }

            Assert.True(Directory.GetFiles(dir.Path, "wal-*.log").Length >= 2, "the store never started a new WAL file");
        }

        await using var reopened = PyramidStore.Open(dir.Path, options); // replay refuses a WAL file over the limit
        Assert.Equal(new Log.LogBounds(0, batches), reopened.GetLogBounds(Log));
        Assert.Equal($"record-{batches - 1}", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, batches - 1))!.Payload));
    }

    private static async Task<string> WriteRecordsAsync(TempDirectory dir, int count)
    {
        await using var store = PyramidStore.Open(dir.Path, NoBackground);
        for (var i = 0; i < count; i++)
        {
            await store.AppendAsync(Log, 1, (ulong)i, Encoding.UTF8.GetBytes($"record-{i}"));
        }

        return Directory.GetFiles(dir.Path, "wal-*.log").Single();
    }

    /// <summary>A directory holding <paramref name="source"/>'s MANIFEST and, under its own name, <paramref name="wal"/>
    /// with <paramref name="contents"/>.</summary>
    private static async Task<TempDirectory> CopyWithWalAsync(TempDirectory source, string wal, byte[] contents)
    {
        var dir = new TempDirectory();
        File.Copy(Path.Combine(source.Path, "MANIFEST"), Path.Combine(dir.Path, "MANIFEST"));
        await File.WriteAllBytesAsync(Path.Combine(dir.Path, Path.GetFileName(wal)), contents);
        return dir;
    }

    /// <summary>End of the frames: a new WAL file is preallocated with zeros after them.</summary>
    private static int DataEnd(byte[] wal) => Array.FindLastIndex(wal, b => b != 0) + 1;

    [Fact]
    public async Task Torn_tail_at_every_byte_of_the_last_frames_keeps_the_longest_valid_prefix()
    {
        using var source = new TempDirectory();
        var wal = await WriteRecordsAsync(source, 6);
        var bytes = await File.ReadAllBytesAsync(wal);
        var end = DataEnd(bytes);
        // Cut anywhere inside the last two frames.
        var frameLength = WriteBatch.HeaderBytes + 21 + 12 + "record-5".Length; // frame header, one-record run header (kind, log, first offset, count), record
        Assert.Equal(WalHeader + (6 * frameLength), end);
        for (var cut = end - (2 * frameLength) - 3; cut < end; cut++)
        {
            using var dir = await CopyWithWalAsync(source, wal, bytes.AsSpan(0, cut).ToArray());
            await using var store = PyramidStore.Open(dir.Path, NoBackground);
            var complete = (ulong)((cut - WalHeader) / frameLength);
            Assert.Equal(complete, store.GetLogBounds(Log).Next);
            Assert.Equal(cut - WalHeader - ((long)complete * frameLength), store.Recovery.DroppedBytes);
            for (ulong i = 0; i < complete; i++)
            {
                var record = await store.ReadAsync(Log, i);
                Assert.Equal($"record-{i}", Encoding.UTF8.GetString(record!.Payload));
            }

            // The store keeps working after dropping the tail.
            await store.AppendAsync(Log, 2, complete, "after"u8.ToArray());
            Assert.Equal("after", Encoding.UTF8.GetString((await store.ReadAsync(Log, complete))!.Payload));
        }
    }

    [Fact]
    public async Task Torn_header_of_a_new_wal_file_is_dropped()
    {
        using var dir = new TempDirectory();
        var wal = await WriteRecordsAsync(dir, 1);
        await File.WriteAllBytesAsync(Path.Combine(dir.Path, "wal-9999999999.log"), [0x50, 0x59]);
        await using var store = PyramidStore.Open(dir.Path, NoBackground);
        Assert.Equal(1ul, store.GetLogBounds(Log).Next);
        Assert.Equal(2, store.Recovery.DroppedBytes);
        Assert.False(File.Exists(Path.Combine(dir.Path, "wal-9999999999.log")));
        Assert.True(File.Exists(wal));
    }

    [Fact]
    public async Task Flipped_byte_before_the_last_frame_is_reported_with_file_and_position()
    {
        using var source = new TempDirectory();
        var wal = await WriteRecordsAsync(source, 8);
        var original = await File.ReadAllBytesAsync(wal);
        var end = DataEnd(original);
        var seed = TestSeed.Of(20261202);
        var random = new Random(seed);
        for (var round = 0; round < 40; round++)
        {
            var position = WalHeader + random.Next(end - WalHeader - RecordFrameBytes); // any frame but the last
            var bit = random.Next(8);
            var flipped = $"seed {seed} (PYRALOG_TEST_SEED shifts it), round {round}, byte {position} bit {bit}";
            var bytes = (byte[])original.Clone();
            bytes[position] ^= (byte)(1 << bit);
            using var dir = await CopyWithWalAsync(source, wal, bytes);
            var path = Path.Combine(dir.Path, Path.GetFileName(wal));
            // Recorded rather than Assert.ThrowsAsync, so a flip the replay accepts names the seed and byte.
            var thrown = await Record.ExceptionAsync(async () =>
            {
                await using var store = PyramidStore.Open(dir.Path, NoBackground);
            });
            Assert.True(thrown is PyramidCorruptionException, $"{flipped}: expected a PyramidCorruptionException, got {thrown?.ToString() ?? "no error"}");
            var error = Assert.IsType<PyramidCorruptionException>(thrown); // checked above, with the seed and byte in the message
            Assert.True(error.FilePath == path, $"{flipped}: {error.Message}");
            var frameStart = WalHeader + ((position - WalHeader) / RecordFrameBytes * RecordFrameBytes);
            Assert.True(error.Position == frameStart, $"{flipped}: reported {error.Position}, frame {frameStart}");
        }
    }

    [Fact]
    public async Task Flipped_byte_in_the_last_frame_is_treated_as_a_torn_write_and_reported()
    {
        using var dir = new TempDirectory();
        var wal = await WriteRecordsAsync(dir, 3);
        var bytes = await File.ReadAllBytesAsync(wal);
        bytes[DataEnd(bytes) - 3] ^= 0x40;
        await File.WriteAllBytesAsync(wal, bytes);
        await using var store = PyramidStore.Open(dir.Path, NoBackground);
        Assert.Equal(2ul, store.GetLogBounds(Log).Next);
        Assert.Equal(wal, store.Recovery.TornFile);
        Assert.True(store.Recovery.DroppedBytes > 0);
    }

    [Fact]
    public async Task Preallocated_zeros_and_stale_recycled_frames_after_the_last_frame_are_a_clean_end()
    {
        using var source = new TempDirectory();
        var wal = await WriteRecordsAsync(source, 6);
        var bytes = await File.ReadAllBytesAsync(wal);
        await using (var zeros = PyramidStore.Open(source.Path, NoBackground))
        {
            Assert.Equal(6ul, zeros.GetLogBounds(Log).Next);
            Assert.Equal(0, zeros.Recovery.DroppedBytes);
        }

        // A recycled file: three new frames over the frames an older file (another file number, other frame
        // lengths) left, so the new frames end inside a stale one.
        var recycled = await StaleWalAsync(bytes.Length);
        bytes.AsSpan(0, WalHeader + (3 * RecordFrameBytes)).CopyTo(recycled);
        using var dir = await CopyWithWalAsync(source, wal, recycled);
        await using var store = PyramidStore.Open(dir.Path, NoBackground);
        Assert.Equal(3ul, store.GetLogBounds(Log).Next);
        Assert.Equal(0, store.Recovery.DroppedBytes);
        Assert.Null(store.Recovery.TornFile);
    }

    /// <summary>
    /// A completed file is not cut back (that was a journal commit on the commit thread at every memtable swap): a frame
    /// header of zeros marks its end, and whatever stale bytes follow the mark are a clean end. The same stale bytes
    /// right after the last frame, without the mark, are damage to a file that was complete.
    /// </summary>
    [Fact]
    public async Task A_completed_recycled_file_ends_at_its_end_mark_and_stale_bytes_without_the_mark_are_damage()
    {
        using var source = new TempDirectory();
        var wal = await WriteRecordsAsync(source, 6);
        var bytes = await File.ReadAllBytesAsync(wal);
        var end = WalHeader + (3 * RecordFrameBytes);
        var stale = await StaleWalAsync(bytes.Length);
        bytes.AsSpan(0, end).CopyTo(stale); // three frames over an older file's longer ones: they end inside a stale frame
        var withMark = (byte[])stale.Clone();
        withMark.AsSpan(end, WriteBatch.HeaderBytes).Clear();

        // The newest file, after the completed one: created, never written.
        var fileNumber = long.Parse(Path.GetFileName(wal).AsSpan(4, 10));
        var newest = new byte[4096];
        bytes.AsSpan(0, WalHeader).CopyTo(newest);
        var newestName = $"wal-{fileNumber + 1:D10}.log";

        using (var dir = await CopyWithWalAsync(source, wal, withMark))
        {
            await File.WriteAllBytesAsync(Path.Combine(dir.Path, newestName), newest);
            await using var store = PyramidStore.Open(dir.Path, NoBackground);
            Assert.Equal(3ul, store.GetLogBounds(Log).Next);
            Assert.Equal(0, store.Recovery.DroppedBytes);
            Assert.Null(store.Recovery.TornFile);
        }

        using (var dir = await CopyWithWalAsync(source, wal, stale))
        {
            await File.WriteAllBytesAsync(Path.Combine(dir.Path, newestName), newest);
            var e = Assert.Throws<PyramidCorruptionException>(() => PyramidStore.Open(dir.Path, NoBackground));
            Assert.Equal(Path.Combine(dir.Path, Path.GetFileName(wal)), e.FilePath);
            Assert.Equal(end, e.Position);
            Assert.Contains("damaged frame in a write-ahead log file that was complete", e.Message);
        }
    }

    /// <summary>
    /// A recycled file's stale region holds whatever its earlier frames held, user payloads included, and a payload may
    /// be a well-formed frame (length, CRC32C, this file's future number): bytes a user chose. Frames carry a CRC seeded
    /// with a salt the file drew when it was recycled, after those bytes were written, so such a frame after the end mark
    /// is stale bytes like any other, not a valid frame after damage.
    /// </summary>
    [Fact]
    public async Task A_frame_forged_in_a_payload_after_the_end_mark_of_a_completed_recycled_file_is_stale()
    {
        using var source = new TempDirectory();
        var wal = await WriteRecordsAsync(source, 6);
        var bytes = await File.ReadAllBytesAsync(wal);
        var end = WalHeader + (3 * RecordFrameBytes);
        var recycled = await StaleWalAsync(bytes.Length);
        bytes.AsSpan(0, end).CopyTo(recycled);
        recycled.AsSpan(end, WriteBatch.HeaderBytes).Clear(); // the end mark

        // A copy of the fourth frame as a user could write it into a payload: this file's number, a CRC32C of its own.
        var fileNumber = long.Parse(Path.GetFileName(wal).AsSpan(4, 10));
        var forged = bytes.AsSpan(end, RecordFrameBytes).ToArray();
        BitConverter.TryWriteBytes(forged.AsSpan(28), fileNumber);
        BitConverter.TryWriteBytes(forged.AsSpan(4), Hashing.Crc32C.Append(Hashing.Crc32C.Compute(forged.AsSpan(0, 4)), forged.AsSpan(8)));
        forged.CopyTo(recycled, end + WriteBatch.HeaderBytes + 7);

        var newest = new byte[4096];
        bytes.AsSpan(0, WalHeader).CopyTo(newest);
        using var dir = await CopyWithWalAsync(source, wal, recycled);
        await File.WriteAllBytesAsync(Path.Combine(dir.Path, $"wal-{fileNumber + 1:D10}.log"), newest);
        await using var store = PyramidStore.Open(dir.Path, NoBackground);
        Assert.Equal(3ul, store.GetLogBounds(Log).Next);
        Assert.Equal(0, store.Recovery.DroppedBytes);
        Assert.Null(store.Recovery.TornFile);
    }

    /// <summary>A store written by the build before WAL files had a salt (format 3) opens with its records.</summary>
    [Fact]
    public async Task A_wal_of_format_3_is_replayed()
    {
        using var dir = new TempDirectory();
        var wal = await WriteRecordsAsync(dir, 4);
        await File.WriteAllBytesAsync(wal, AsFormat3(await File.ReadAllBytesAsync(wal)));
        await using var store = PyramidStore.Open(dir.Path, NoBackground);
        Assert.Equal(4ul, store.GetLogBounds(Log).Next);
        Assert.Null(store.Recovery.TornFile);
        for (ulong i = 0; i < 4; i++)
        {
            Assert.Equal($"record-{i}", Encoding.UTF8.GetString((await store.ReadAsync(Log, i))!.Payload));
        }

        await store.AppendAsync(Log, 1, 4, "record-4"u8.ToArray()); // into a new file of the current format
        await store.DisposeAsync();
        await using var reopened = PyramidStore.Open(dir.Path, NoBackground);
        Assert.Equal(new Log.LogBounds(0, 5), reopened.GetLogBounds(Log));
        Assert.Equal("record-4", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, 4))!.Payload));
    }

    /// <summary>The same frames as format 3 wrote them: an 8-byte header without salt, a plain CRC32C.</summary>
    private static byte[] AsFormat3(byte[] wal)
    {
        var output = new List<byte>(wal[..Wal.WriteAheadLog.UnsaltedHeaderBytes]);
        BitConverter.TryWriteBytes(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(output)[4..], (ushort)3);
        var position = WalHeader;
        while (position + 8 <= wal.Length && BitConverter.ToInt32(wal, position) is > 0 and var payload)
        {
            var bytes = wal.AsSpan(position, 8 + payload).ToArray();
            BitConverter.TryWriteBytes(bytes.AsSpan(4), Hashing.Crc32C.Append(Hashing.Crc32C.Compute(bytes.AsSpan(0, 4)), bytes.AsSpan(8)));
            output.AddRange(bytes);
            position += 8 + payload;
        }

        output.AddRange(new byte[wal.Length - output.Count]); // the preallocated zeros after the frames
        return [.. output];
    }

    [Fact]
    public async Task A_frame_torn_over_stale_recycled_frames_is_reported_once_its_header_was_written()
    {
        using var source = new TempDirectory();
        var wal = await WriteRecordsAsync(source, 6);
        var bytes = await File.ReadAllBytesAsync(wal);
        var stale = await StaleWalAsync(bytes.Length);
        var fourthFrame = WalHeader + (3 * RecordFrameBytes);
        for (var written = 1; written < RecordFrameBytes; written++)
        {
            var recycled = (byte[])stale.Clone();
            bytes.AsSpan(0, fourthFrame + written).CopyTo(recycled);
            using var dir = await CopyWithWalAsync(source, wal, recycled);
            await using var store = PyramidStore.Open(dir.Path, NoBackground);
            Assert.Equal(3ul, store.GetLogBounds(Log).Next);
            if (written >= WriteBatch.HeaderBytes)
            {
                Assert.Equal(Path.Combine(dir.Path, Path.GetFileName(wal)), store.Recovery.TornFile);
                Assert.Equal(fourthFrame, store.Recovery.TornAtByte);
                Assert.Equal(RecordFrameBytes, store.Recovery.DroppedBytes);
            }
        }
    }

    /// <summary>
    /// Nothing flushed, three frames over two WAL files. If the older file loses its frames (zeroed after its header, or
    /// gone), the newer one starts past the first unflushed sequence: acknowledged frames are missing, which the open must
    /// say rather than replay the newer file alone and report a clean end.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_lost_or_zeroed_older_wal_file_is_reported_as_missing_frames(bool zeroed)
    {
        using var dir = new TempDirectory();
        // Any group after the first in a memtable swaps it (and starts a new WAL file): the file would pass the limit.
        // Written so only: replay refuses files over the limit, so the reopens use the default.
        var options = new PyramidOptions { BackgroundWork = false, MaxWalFileBytes = 1 };
        await using (var store = PyramidStore.Open(dir.Path, options))
        {
            using var batch = new WriteBatch();
            batch.Append(Log, 1, 0, "record-0"u8.ToArray());
            batch.Append(Log, 1, 1, "record-1"u8.ToArray());
            await store.WriteAsync(batch);
            await store.AppendAsync(Log, 1, 2, "record-2"u8.ToArray());
        }

        var wals = Directory.GetFiles(dir.Path, "wal-*.log").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(2, wals.Length);
        if (zeroed)
        {
            var older = await File.ReadAllBytesAsync(wals[0]);
            older.AsSpan(WalHeader).Clear();
            await File.WriteAllBytesAsync(wals[0], older);
        }
        else
        {
            File.Delete(wals[0]);
        }

        var e = Assert.Throws<PyramidCorruptionException>(() => PyramidStore.Open(dir.Path, NoBackground));
        Assert.Equal(wals[1], e.FilePath);
        Assert.Equal(WalHeader, e.Position);
        Assert.Contains("write-ahead log frames 1 to 1 are missing", e.Message);
    }

    /// <summary>Frames after a flush start at the flushed sequence's successor: a store whose WAL files were all flushed
    /// (some kept for recycling, their frames stale), and one whose newest file's frames follow a flush, open with every
    /// record.</summary>
    [Fact]
    public async Task Frames_after_a_flush_replay_from_the_first_unflushed_sequence()
    {
        using var dir = new TempDirectory();
        await using (var store = PyramidStore.Open(dir.Path, new PyramidOptions { BackgroundWork = false, MaxWalFileBytes = 1 }))
        {
            for (var i = 0; i < 4; i++)
            {
                await store.AppendAsync(Log, 1, (ulong)i, Encoding.UTF8.GetBytes($"record-{i}"));
            }

            await store.FlushAsync();
        }

        await using (var store = PyramidStore.Open(dir.Path, NoBackground))
        {
            Assert.Equal(new Log.LogBounds(0, 4), store.GetLogBounds(Log));
            for (var i = 4; i < 7; i++)
            {
                await store.AppendAsync(Log, 1, (ulong)i, Encoding.UTF8.GetBytes($"record-{i}"));
            }
        }

        await using var reopened = PyramidStore.Open(dir.Path, NoBackground);
        Assert.Equal(new Log.LogBounds(0, 7), reopened.GetLogBounds(Log));
        Assert.Equal(0, reopened.Recovery.DroppedBytes);
        for (ulong i = 0; i < 7; i++)
        {
            Assert.Equal($"record-{i}", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, i))!.Payload));
        }
    }

    [Fact]
    public async Task A_wal_of_the_earlier_format_is_refused_with_a_message()
    {
        using var dir = new TempDirectory();
        var wal = await WriteRecordsAsync(dir, 1);
        var bytes = await File.ReadAllBytesAsync(wal);
        BitConverter.TryWriteBytes(bytes.AsSpan(4), (ushort)1);
        await File.WriteAllBytesAsync(wal, bytes);
        var error = Assert.Throws<NotSupportedException>(() => PyramidStore.Open(dir.Path, NoBackground));
        Assert.Equal(
            $"'{wal}' has write-ahead log format version 1, written by an earlier Pyralog; this build reads versions 2 to 4 "
            + "(frames name their WAL file) and does not convert older logs. Recreate the store.",
            error.Message);
    }

    /// <summary>A store written by the build before frames carried their synced length (WAL format 2) opens with its records.</summary>
    [Fact]
    public async Task A_wal_of_format_2_is_replayed()
    {
        using var dir = new TempDirectory();
        var wal = await WriteRecordsAsync(dir, 4);
        await File.WriteAllBytesAsync(wal, AsFormat2(await File.ReadAllBytesAsync(wal)));
        await using var store = PyramidStore.Open(dir.Path, NoBackground);
        Assert.Equal(4ul, store.GetLogBounds(Log).Next);
        Assert.Null(store.Recovery.TornFile);
        for (ulong i = 0; i < 4; i++)
        {
            Assert.Equal($"record-{i}", Encoding.UTF8.GetString((await store.ReadAsync(Log, i))!.Payload));
        }
    }

    /// <summary>The same frames as format 2 wrote them: no synced length after the file number.</summary>
    private static byte[] AsFormat2(byte[] wal)
    {
        var output = new List<byte>(wal[..Wal.WriteAheadLog.UnsaltedHeaderBytes]);
        BitConverter.TryWriteBytes(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(output)[4..], (ushort)2);
        var position = WalHeader;
        while (position + 8 <= wal.Length && BitConverter.ToInt32(wal, position) is > 0 and var payload)
        {
            var frame = new List<byte>(wal.AsSpan(position, 36).ToArray());
            frame.AddRange(wal.AsSpan(position + 44, payload - 36));
            var bytes = frame.ToArray();
            BitConverter.TryWriteBytes(bytes.AsSpan(0), payload - 8);
            var crc = Hashing.Crc32C.Append(Hashing.Crc32C.Compute(bytes.AsSpan(0, 4)), bytes.AsSpan(8));
            BitConverter.TryWriteBytes(bytes.AsSpan(4), crc);
            output.AddRange(bytes);
            position += 8 + payload;
        }

        output.AddRange(new byte[wal.Length - output.Count]); // the preallocated zeros after the frames
        return [.. output];
    }

    /// <summary>The content a recycled WAL file had: frames of another file (number 9) with longer records,
    /// sealed as the engine seals them (under that file's salt).</summary>
    private static async Task<byte[]> StaleWalAsync(int length)
    {
        using var dir = new TempDirectory();
        await using (var store = PyramidStore.Open(dir.Path, NoBackground))
        {
            for (var i = 0; i < 20; i++)
            {
                await store.AppendAsync(Log, 1, (ulong)i, Encoding.UTF8.GetBytes($"an older, longer record {i}"));
            }
        }

        var stale = await File.ReadAllBytesAsync(Directory.GetFiles(dir.Path, "wal-*.log").Single());
        var frameLength = WriteBatch.HeaderBytes + 21 + 12 + "an older, longer record 0".Length;
        var seed = Wal.WriteAheadLog.CrcSeedOf(stale);
        for (var i = 0; i < 20; i++)
        {
            var at = WalHeader + (i * frameLength);
            BitConverter.TryWriteBytes(stale.AsSpan(at + 28), 9L);
            var crc = Hashing.Crc32C.Append(Hashing.Crc32C.Append(seed, stale.AsSpan(at, 4)), stale.AsSpan(at + 8, frameLength - 8));
            BitConverter.TryWriteBytes(stale.AsSpan(at + 4), crc);
        }

        return stale.AsSpan(0, length).ToArray();
    }
}
