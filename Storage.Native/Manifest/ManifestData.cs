using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native.Manifest;

/// <summary>The durable description of a store: live segments per level, what the WAL no longer needs
/// to replay (everything through <see cref="LastFlushedSequence"/>), and every log's bounds at that point.</summary>
internal sealed record ManifestData(
    long NextFileNumber, ulong LastFlushedSequence, IReadOnlyDictionary<ulong, LogSpaceState> LogStates, IReadOnlyList<IReadOnlyList<SegmentMetadata>> Levels);
