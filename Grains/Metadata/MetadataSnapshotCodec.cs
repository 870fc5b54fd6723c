using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Partitions;
using Pyralog.Grains.Placement;
using Pyralog.Storage.Native.Hashing;

namespace Pyralog.Grains.Metadata;

/// <summary>
/// The metadata group's state as snapshot data (little-endian): magic "PMD", version, the next log id, the log count,
/// per log (by id) its id, name (uint16 length, UTF-8), partitions, RF, state, settings (<see cref="LogSettingsCodec"/>)
/// and incarnations (int32 partition count, -1 for none; per partition an int32 count and int64s), since version 2 its
/// homes (int32 silo count, -1 for none; per silo a uint16 length and UTF-8 endpoint; int32 length and the per-slot
/// bytes of <see cref="ReplicaHomes"/>; int64 version) and moves (int32 count; per move partition, from, to as int32s,
/// since version 3 its run as an int64), then a CRC-32C of everything before it. Version 3 also holds the group's metadata
/// version (int32, after the next log id); it is written only once that is <see cref="MetadataVersion.MoveRuns"/> or
/// above, so a build that reads version 2 can install the snapshots of a group until its version rises (see
/// <see cref="MetadataVersion"/>). Versions 1 (no homes) and 2 still decode, at metadata version 1. A snapshot travels between silos and lives on disk: decoding checks the checksum, every length
/// and what the state's own invariants promise (ids increasing below the next id, names unique), and throws rather than
/// hand back part of a state. It checks no more: whatever applying commands can produce must decode again.
/// </summary>
internal static class MetadataSnapshotCodec
{
    private const byte Version = 3;
    private static ReadOnlySpan<byte> Magic => "PMD"u8;

    /// <summary>The state of a group at metadata version <paramref name="metadataVersion"/> as snapshot data.</summary>
    public static byte[] Encode(int metadataVersion, ulong nextLogId, IEnumerable<MetadataLog> logs)
    {
        var format = metadataVersion >= MetadataVersion.MoveRuns ? Version : (byte)2;
        var w = new ArrayBufferWriter<byte>(256);
        w.Write(Magic);
        w.Write([format]);
        WriteUInt64(w, nextLogId);
        if (format >= 3)
        {
            WriteInt32(w, metadataVersion);
        }

        var sorted = logs.OrderBy(l => l.Info.Id).ToList();
        WriteInt32(w, sorted.Count);
        foreach (var log in sorted)
        {
            var info = log.Info;
            WriteUInt64(w, info.Id);
            var name = Encoding.UTF8.GetBytes(info.Name);
            BinaryPrimitives.WriteUInt16LittleEndian(w.GetSpan(2), checked((ushort)name.Length));
            w.Advance(2);
            w.Write(name);
            WriteInt32(w, info.Partitions);
            WriteInt32(w, info.ReplicationFactor);
            w.Write([(byte)info.State]);
            w.Write(LogSettingsCodec.Encode(info.Settings));
            WriteIncarnations(w, log.Incarnations);
            WriteHomes(w, log.Homes);
            WriteInt32(w, log.Moves?.Length ?? 0);
            foreach (var move in log.Moves ?? [])
            {
                WriteInt32(w, move.Partition);
                WriteInt32(w, move.From);
                WriteInt32(w, move.To);
                if (format >= 3)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(w.GetSpan(8), move.Run);
                    w.Advance(8);
                }
                else if (move.Run != 0)
                {
                    throw new InvalidOperationException($"a move of run {move.Run} in a state at metadata version {metadataVersion}, which has no runs");
                }
            }
        }

        BinaryPrimitives.WriteUInt32LittleEndian(w.GetSpan(4), Crc32C.Compute(w.WrittenSpan));
        w.Advance(4);
        return w.WrittenSpan.ToArray();
    }

    /// <exception cref="InvalidDataException">The data is not a whole, intact metadata snapshot of this version (the message says what is wrong).</exception>
    public static (int MetadataVersion, ulong NextLogId, List<MetadataLog> Logs) Decode(ReadOnlySpan<byte> data)
    {
        const int fixedBytes = 3 + 1 + 8 + 4 + 4;
        if (data.Length < fixedBytes)
        {
            throw Damaged(data, $"it is shorter than the {fixedBytes} bytes of an empty state");
        }

        if (!data[..3].SequenceEqual(Magic))
        {
            throw Damaged(data, "it does not start with the metadata snapshot magic \"PMD\"");
        }

        var version = data[3];
        if (version is < 1 or > Version)
        {
            throw Damaged(data, $"it is of version {version}, not 1 to {Version} (a version above {Version} is a newer build's: upgrade this silo)");
        }

        var stored = BinaryPrimitives.ReadUInt32LittleEndian(data[^4..]);
        if (stored != Crc32C.Compute(data[..^4]))
        {
            throw Damaged(data, "its checksum does not match its content");
        }

        var body = data[..^4];
        var at = 4;
        var nextLogId = ReadUInt64(body, ref at, "the next log id");
        var metadataVersion = version >= 3 ? ReadInt32(body, ref at, "the metadata version") : MetadataVersion.First;
        if (metadataVersion < MetadataVersion.First)
        {
            throw Damaged(data, $"it is at metadata version {metadataVersion}, below {MetadataVersion.First}");
        }

        var count = ReadInt32(body, ref at, "the log count");
        if (count < 0 || (ulong)count >= nextLogId)
        {
            throw Damaged(data, $"it counts {count} logs with next log id {nextLogId}");
        }

        var logs = new List<MetadataLog>(Math.Min(count, 1024));
        var names = new HashSet<string>(StringComparer.Ordinal);
        ulong previousId = 0;
        for (var i = 0; i < count; i++)
        {
            var id = ReadUInt64(body, ref at, $"the id of log #{i}");
            if (id <= previousId || id >= nextLogId)
            {
                throw Damaged(data, $"log #{i} has id {id}, not above {previousId} and below the next log id {nextLogId}");
            }

            previousId = id;
            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(Take(body, ref at, 2, $"the name length of log {id}"));
            string name;
            try
            {
                name = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Take(body, ref at, nameLength, $"the name of log {id}"));
            }
            catch (DecoderFallbackException e)
            {
                throw new InvalidDataException($"a metadata snapshot of {data.Length} bytes is damaged: the name of log {id} is not UTF-8", e);
            }

            if (!names.Add(name))
            {
                throw Damaged(data, $"log {id} has the name '{name}' of another log");
            }

            var partitions = ReadInt32(body, ref at, $"the partitions of log {id}");
            var replicationFactor = ReadInt32(body, ref at, $"the replication factor of log {id}");
            var state = (LogState)Take(body, ref at, 1, $"the state of log {id}")[0];
            if (!Enum.IsDefined(state))
            {
                throw Damaged(data, $"log {id} has the unknown state {(byte)state}");
            }

            var settings = LogSettingsCodec.Decode(Take(body, ref at, LogSettingsCodec.EncodedBytes, $"the settings of log {id}"));
            long[][]? incarnations = null;
            var incarnationPartitions = ReadInt32(body, ref at, $"the incarnation count of log {id}");
            if (incarnationPartitions != -1)
            {
                // Checked against what is left before allocating: a damaged count must not allocate gigabytes.
                if (incarnationPartitions < 0 || incarnationPartitions > (body.Length - at) / 4)
                {
                    throw Damaged(data, $"log {id} has incarnations for {incarnationPartitions} partitions, more than its {body.Length - at} remaining bytes hold");
                }

                incarnations = new long[incarnationPartitions][];
                for (var p = 0; p < incarnationPartitions; p++)
                {
                    var replicas = ReadInt32(body, ref at, $"the replica count of partition {p} of log {id}");
                    if (replicas < 0 || replicas > (body.Length - at) / 8)
                    {
                        throw Damaged(data, $"partition {p} of log {id} has {replicas} incarnations, more than its {body.Length - at} remaining bytes hold");
                    }

                    incarnations[p] = new long[replicas];
                    for (var r = 0; r < replicas; r++)
                    {
                        incarnations[p][r] = BinaryPrimitives.ReadInt64LittleEndian(Take(body, ref at, 8, $"incarnation {r} of partition {p} of log {id}"));
                    }
                }
            }

            ReplicaHomes? homes = null;
            ReplicaMove[]? moves = null;
            if (version >= 2)
            {
                homes = ReadHomes(data, body, ref at, id, partitions);
                var moveCount = ReadInt32(body, ref at, $"the move count of log {id}");
                var moveBytes = version >= 3 ? 20 : 12;
                if (moveCount < 0 || moveCount > (body.Length - at) / moveBytes || (moveCount > 0 && homes is null))
                {
                    throw Damaged(data, $"log {id} has {moveCount} moves, more than its {body.Length - at} remaining bytes hold or without homes");
                }

                for (var m = 0; m < moveCount; m++)
                {
                    var move = new ReplicaMove(
                        ReadInt32(body, ref at, $"move {m} of log {id}"), ReadInt32(body, ref at, $"move {m} of log {id}"), ReadInt32(body, ref at, $"move {m} of log {id}"),
                        version >= 3 ? BinaryPrimitives.ReadInt64LittleEndian(Take(body, ref at, 8, $"the run of move {m} of log {id}")) : 0);
                    if (homes!.Home(move.Partition, move.From) is null || homes.Home(move.Partition, move.To) is null)
                    {
                        throw Damaged(data, $"log {id} moves slot {move.From} to slot {move.To} of partition {move.Partition}, which are not both homed");
                    }

                    moves = [.. moves ?? [], move];
                }
            }

            var info = new LogInfo(id, name, partitions, replicationFactor, settings, state) { SlotMasks = homes?.SlotMasks() };
            logs.Add(new MetadataLog(info, incarnations, homes, moves));
        }

        if (at != body.Length)
        {
            throw Damaged(data, $"{body.Length - at} bytes follow its last log");
        }

        return (metadataVersion, nextLogId, logs);
    }

    private static void WriteIncarnations(ArrayBufferWriter<byte> w, long[][]? incarnations)
    {
        if (incarnations is null)
        {
            WriteInt32(w, -1);
            return;
        }

        WriteInt32(w, incarnations.Length);
        foreach (var partition in incarnations)
        {
            WriteInt32(w, partition.Length);
            foreach (var incarnation in partition)
            {
                BinaryPrimitives.WriteInt64LittleEndian(w.GetSpan(8), incarnation);
                w.Advance(8);
            }
        }
    }

    private static void WriteHomes(ArrayBufferWriter<byte> w, ReplicaHomes? homes)
    {
        if (homes is null)
        {
            WriteInt32(w, -1);
            return;
        }

        WriteInt32(w, homes.Silos.Length);
        foreach (var silo in homes.Silos)
        {
            var bytes = Encoding.UTF8.GetBytes(silo);
            BinaryPrimitives.WriteUInt16LittleEndian(w.GetSpan(2), checked((ushort)bytes.Length));
            w.Advance(2);
            w.Write(bytes);
        }

        WriteInt32(w, homes.Homes.Length);
        w.Write(homes.Homes);
        BinaryPrimitives.WriteInt64LittleEndian(w.GetSpan(8), homes.Version);
        w.Advance(8);
    }

    private static ReplicaHomes? ReadHomes(ReadOnlySpan<byte> data, ReadOnlySpan<byte> body, ref int at, ulong id, int partitions)
    {
        var siloCount = ReadInt32(body, ref at, $"the home silo count of log {id}");
        if (siloCount == -1)
        {
            return null;
        }

        if (siloCount < 0 || siloCount > byte.MaxValue || siloCount > (body.Length - at) / 2)
        {
            throw Damaged(data, $"log {id} has {siloCount} home silos, over 255 or more than its {body.Length - at} remaining bytes hold");
        }

        var silos = new string[siloCount];
        for (var i = 0; i < siloCount; i++)
        {
            var length = BinaryPrimitives.ReadUInt16LittleEndian(Take(body, ref at, 2, $"the length of home silo {i} of log {id}"));
            silos[i] = Encoding.UTF8.GetString(Take(body, ref at, length, $"home silo {i} of log {id}"));
        }

        var length7 = ReadInt32(body, ref at, $"the homes length of log {id}");
        if (length7 != (long)partitions * ReplicaGrainKey.MaxReplicationFactor)
        {
            throw Damaged(data, $"log {id} has {length7} home bytes for {partitions} partitions (not {ReplicaGrainKey.MaxReplicationFactor} per partition)");
        }

        var homes = Take(body, ref at, length7, $"the homes of log {id}").ToArray();
        var named = new bool[siloCount];
        foreach (var home in homes)
        {
            if (home > siloCount)
            {
                throw Damaged(data, $"log {id} names home silo {home} of {siloCount}");
            }

            if (home != 0)
            {
                named[home - 1] = true;
            }
        }

        if (Array.IndexOf(named, false) is var unnamed and >= 0)
        {
            throw Damaged(data, $"log {id} lists home silo {silos[unnamed]}, which no replica names");
        }

        var version = BinaryPrimitives.ReadInt64LittleEndian(Take(body, ref at, 8, $"the homes version of log {id}"));
        return new ReplicaHomes { Silos = silos, Homes = homes, Version = version };
    }

    private static void WriteInt32(ArrayBufferWriter<byte> w, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(w.GetSpan(4), value);
        w.Advance(4);
    }

    private static void WriteUInt64(ArrayBufferWriter<byte> w, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(w.GetSpan(8), value);
        w.Advance(8);
    }

    private static int ReadInt32(ReadOnlySpan<byte> body, ref int at, string what) =>
        BinaryPrimitives.ReadInt32LittleEndian(Take(body, ref at, 4, what));

    private static ulong ReadUInt64(ReadOnlySpan<byte> body, ref int at, string what) =>
        BinaryPrimitives.ReadUInt64LittleEndian(Take(body, ref at, 8, what));

    private static ReadOnlySpan<byte> Take(ReadOnlySpan<byte> body, ref int at, int length, string what)
    {
        if (length > body.Length - at)
        {
            throw new InvalidDataException($"a metadata snapshot of {body.Length + 4} bytes is damaged: it ends inside {what} (at byte {at})");
        }

        var taken = body.Slice(at, length);
        at += length;
        return taken;
    }

    private static InvalidDataException Damaged(ReadOnlySpan<byte> data, string why) =>
        new($"a metadata snapshot of {data.Length} bytes is damaged: {why}");
}
