using System.Text.Json;
using System.Text.Json.Serialization;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Metadata;

/// <summary>
/// One change to the metadata group's state, as the data of a Raft entry (JSON: a few per log's lifetime, so
/// readability beats size). Kinds: <c>create</c> (name, shape, settings) assigns the next log id; <c>incarnations</c>
/// records the founding incarnations of every replica (first writer wins); <c>homes</c> records the silo of every
/// replica (first writer wins); <c>activate</c> marks the log usable; <c>delete</c> removes it. A replica move takes
/// <c>move</c> (slot <see cref="To"/> of <see cref="Partition"/> gets its home at <see cref="Silo"/> beside slot
/// <see cref="From"/>), then <c>moved</c> (slot From is gone) or <c>abandon-move</c> (slot To is gone again).
/// <c>rehome</c> records that slot From of a partition whose home silo is gone for good now lives at Silo (where it
/// runs and holds its data), if its home is still <see cref="PreviousSilo"/>. <c>metadata-version</c> raises the group's
/// version to <see cref="Version"/> (see <see cref="MetadataVersion"/>: which kinds and fields each version brought).
/// </summary>
internal sealed record MetadataCommand
{
    public required string Kind { get; init; }

    public string? Name { get; init; }

    public ulong LogId { get; init; }

    public int Partitions { get; init; }

    public int ReplicationFactor { get; init; }

    public LogDurability Durability { get; init; }

    public int MaxRecordBytes { get; init; }

    /// <summary>Retention age in milliseconds (null: forever).</summary>
    public long? RetentionAgeMs { get; init; }

    /// <summary>Retention bytes per partition (null: unlimited).</summary>
    public long? RetentionBytes { get; init; }

    public long[][]? Incarnations { get; init; }

    /// <summary>A <c>homes</c> command's silo endpoints, per partition, per slot.</summary>
    public string[][]? Homes { get; init; }

    /// <summary>The partition a move command is about.</summary>
    public int Partition { get; init; }

    /// <summary>The slot a move replaces.</summary>
    public int From { get; init; }

    /// <summary>The slot a move adds.</summary>
    public int To { get; init; }

    /// <summary>The endpoint of the silo a <c>move</c> sends the replica to, or a <c>rehome</c> records.</summary>
    public string? Silo { get; init; }

    /// <summary>The home a <c>rehome</c> replaces (the command is refused if the slot's home changed meanwhile).</summary>
    public string? PreviousSilo { get; init; }

    /// <summary>
    /// The run of the mover that owns a move (metadata version 2; 0 below it, or from a caller of an older build): a
    /// <c>move</c> with another run takes the move over, and <c>moved</c> or <c>abandon-move</c> of a run that no longer
    /// owns the move is refused, so a mover that lost the metadata leadership cannot end a move its successor runs (a
    /// move recorded before the group reached version 2 has no owner until a run takes it over).
    /// </summary>
    public long Run { get; init; }

    /// <summary>The version a <c>metadata-version</c> command raises the group to.</summary>
    public int Version { get; init; }

    /// <summary>The settings a <c>create</c> command carries.</summary>
    public LogSettings Settings() => new()
    {
        Durability = Durability, MaxRecordBytes = MaxRecordBytes,
        RetentionAge = RetentionAgeMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null, RetentionBytes = RetentionBytes,
    };

    /// <summary>A <c>create</c> command for a log named <paramref name="name"/> of this shape and settings.</summary>
    public static MetadataCommand Create(string name, int partitions, int replicationFactor, LogSettings settings) => new()
    {
        Kind = "create", Name = name, Partitions = partitions, ReplicationFactor = replicationFactor,
        Durability = settings.Durability, MaxRecordBytes = settings.MaxRecordBytes,
        RetentionAgeMs = settings.RetentionAge is { } age ? (long)age.TotalMilliseconds : null, RetentionBytes = settings.RetentionBytes,
    };

    public byte[] Encode() => JsonSerializer.SerializeToUtf8Bytes(this, Options);

    /// <exception cref="InvalidDataException">The bytes are not a metadata command (the message says why).</exception>
    public static MetadataCommand Decode(ReadOnlySpan<byte> data)
    {
        try
        {
            return JsonSerializer.Deserialize<MetadataCommand>(data, Options) ?? throw new InvalidDataException("an empty metadata command");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{data.Length} bytes are not a metadata command: {e.Message}", e);
        }
    }

    private static readonly JsonSerializerOptions Options = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault };
}
