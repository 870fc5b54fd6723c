namespace Pyralog.Consensus;

/// <summary>
/// The durable state a node starts from, and the reader for durable entries. The node reads
/// <see cref="HardState"/> and <see cref="Metadata"/> once, when it is built (after a crash it is rebuilt from here
/// alone, so whatever the host had not finished persisting is simply gone); afterwards it only calls
/// <see cref="IRaftLogReader.ReadEntries"/>. The host writes through its own path, one <see cref="PersistBatch"/>
/// at a time and in order: snapshot, then entries, then hard state, and keeps <see cref="Metadata"/> updated from
/// the same batch (<see cref="LogMetadata.Restore"/>, <see cref="LogMetadata.Append"/>) and from local compaction
/// (<see cref="LogMetadata.Compact"/>), so the configuration history and term runs are read back, not rebuilt by
/// scanning the log.
/// </summary>
public interface IRaftStorage : IRaftLogReader
{
    HardState HardState { get; }

    /// <summary>The snapshot (with its data), the last index, the term runs and the configuration history.</summary>
    LogMetadata Metadata { get; }
}
