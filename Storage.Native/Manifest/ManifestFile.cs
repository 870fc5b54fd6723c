using System.Buffers.Binary;
using Pyralog.Storage.Native.Devices;
using Pyralog.Storage.Native.Hashing;
using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Segments;
using Pyralog.Storage.Native.Wal;

namespace Pyralog.Storage.Native.Manifest;

/// <summary>
/// Reads and atomically replaces the MANIFEST: <c>[u32 magic "PYRM"][u16 version][u16 0][u32 body length][body][u32 CRC32C(body)]</c>.
/// Replacement writes MANIFEST.tmp, fsyncs it, renames it over MANIFEST and fsyncs the directory, so
/// after any crash the file is either the old or the new manifest, never a mix. A small full snapshot
/// (not an edit log) keeps recovery trivial; it is rewritten only on flush and compaction.
/// </summary>
internal static class ManifestFile
{
    public const string FileName = "MANIFEST";
    public const uint Magic = 0x4D525950; // "PYRM"
    public const ushort Version = 2; // 2: a state per log
    private const string TempName = "MANIFEST.tmp";

    public static ManifestData? Read(IStorageDevice device, string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!device.Exists(path))
        {
            return null;
        }

        var bytes = device.ReadAllBytes(path);
        if (bytes.Length < 16 || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
        {
            throw new PyramidCorruptionException(path, 0, "bad manifest magic or length");
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4));
        if (version != Version)
        {
            throw new NotSupportedException(version > Version
                ? $"'{path}' has manifest format version {version}; this build reads {Version}. Open the store with a newer Pyralog."
                : $"'{path}' has manifest format version {version} (a single-log store); this build reads only {Version}.");
        }

        var bodyLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        if (bodyLength < 0 || 12L + bodyLength + 4 != bytes.Length)
        {
            throw new PyramidCorruptionException(path, 8, $"manifest body length {bodyLength} does not match the file size {bytes.Length}");
        }

        var body = bytes.AsSpan(12, bodyLength);
        if (Crc32C.Compute(body) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12 + bodyLength)))
        {
            throw new PyramidCorruptionException(path, 12, "manifest checksum mismatch");
        }

        try
        {
            var at = 0;
            var nextFile = BinaryPrimitives.ReadInt64LittleEndian(body);
            var lastFlushed = BinaryPrimitives.ReadUInt64LittleEndian(body[8..]);
            var logCount = BinaryPrimitives.ReadInt32LittleEndian(body[16..]);
            at = 20;
            var states = new Dictionary<ulong, LogSpaceState>(logCount);
            for (var i = 0; i < logCount; i++)
            {
                states[BinaryPrimitives.ReadUInt64LittleEndian(body[at..])] = LogSpaceState.Read(body[(at + 8)..]);
                at += 8 + LogSpaceState.EncodedBytes;
            }

            var levelCount = BinaryPrimitives.ReadInt32LittleEndian(body[at..]);
            at += 4;
            var levels = new List<IReadOnlyList<SegmentMetadata>>(levelCount);
            for (var level = 0; level < levelCount; level++)
            {
                var count = BinaryPrimitives.ReadInt32LittleEndian(body[at..]);
                at += 4;
                var segments = new List<SegmentMetadata>(count);
                for (var i = 0; i < count; i++)
                {
                    var number = BinaryPrimitives.ReadInt64LittleEndian(body[at..]);
                    var size = BinaryPrimitives.ReadInt64LittleEndian(body[(at + 8)..]);
                    var entries = BinaryPrimitives.ReadInt64LittleEndian(body[(at + 16)..]);
                    var tombstones = BinaryPrimitives.ReadInt64LittleEndian(body[(at + 24)..]);
                    var logs = BinaryPrimitives.ReadInt64LittleEndian(body[(at + 32)..]);
                    at += 40;
                    var min = ReadBytes(body, ref at);
                    var max = ReadBytes(body, ref at);
                    segments.Add(new SegmentMetadata(number, size, min, max, entries, tombstones, logs));
                }

                levels.Add(segments);
            }

            return new ManifestData(nextFile, lastFlushed, states, levels);
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new PyramidCorruptionException(path, 12, "manifest body is truncated although its checksum matched");
        }
    }

    /// <summary>
    /// Writes the manifest of a new, empty store. Why: every store has a manifest before its first WAL file,
    /// so data files without one mean the manifest was lost, and opening as empty would discard them
    /// (segments it does not name are deleted as orphans); such a directory is refused.
    /// </summary>
    public static ManifestData CreateEmpty(IStorageDevice device, string directory)
    {
        var dataFiles = device.EnumerateFiles(directory)
            .Select(Path.GetFileName)
            .Where(name => SegmentFormat.TryParseFileNumber(name!, out _) || WriteAheadLog.TryParseFileNumber(name!, out _))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (dataFiles.Count > 0)
        {
            throw new IOException(
                $"store directory '{directory}' has no {FileName} but holds {dataFiles.Count} segment or write-ahead log files "
                + $"({string.Join(", ", dataFiles.Take(5))}{(dataFiles.Count > 5 ? ", ..." : "")}): the manifest is lost and opening "
                + $"would discard them; restore {FileName} or move the files away");
        }

        var empty = new ManifestData(1, 0, new Dictionary<ulong, LogSpaceState>(), []);
        Write(device, directory, empty);
        return empty;
    }

    public static void Write(IStorageDevice device, string directory, ManifestData data)
    {
        var body = new MemoryStream();
        Span<byte> scratch = stackalloc byte[LogSpaceState.EncodedBytes];
        WriteInt64(body, data.NextFileNumber);
        WriteInt64(body, (long)data.LastFlushedSequence);
        WriteInt32(body, data.LogStates.Count);
        foreach (var (log, state) in data.LogStates)
        {
            WriteInt64(body, (long)log);
            state.Write(scratch);
            body.Write(scratch);
        }

        WriteInt32(body, data.Levels.Count);
        foreach (var level in data.Levels)
        {
            WriteInt32(body, level.Count);
            foreach (var s in level)
            {
                WriteInt64(body, s.FileNumber);
                WriteInt64(body, s.SizeBytes);
                WriteInt64(body, s.EntryCount);
                WriteInt64(body, s.TombstoneCount);
                WriteInt64(body, s.LogCount);
                WriteInt32(body, s.MinKey.Length);
                body.Write(s.MinKey);
                WriteInt32(body, s.MaxKey.Length);
                body.Write(s.MaxKey);
            }
        }

        var bodyBytes = body.GetBuffer().AsSpan(0, (int)body.Length);
        var file = new byte[12 + bodyBytes.Length + 4];
        BinaryPrimitives.WriteUInt32LittleEndian(file, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(4), Version);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(8), bodyBytes.Length);
        bodyBytes.CopyTo(file.AsSpan(12));
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(12 + bodyBytes.Length), Crc32C.Compute(bodyBytes));

        var temp = Path.Combine(directory, TempName);
        using (var handle = device.Open(temp, FileMode.Create))
        {
            handle.Write(file, 0);
            handle.SyncData();
        }

        device.Move(temp, Path.Combine(directory, FileName), overwrite: true);
        device.SyncDirectory(directory);
    }

    private static byte[] ReadBytes(ReadOnlySpan<byte> body, ref int at)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(body[at..]);
        var bytes = body.Slice(at + 4, length).ToArray();
        at += 4 + length;
        return bytes;
    }

    private static void WriteInt64(Stream stream, long value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, value);
        stream.Write(b);
    }

    private static void WriteInt32(Stream stream, int value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, value);
        stream.Write(b);
    }
}
