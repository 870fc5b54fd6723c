using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native.Compaction;

/// <summary>Segments to merge (newest first) into <see cref="OutputLevel"/>, and segments that only move down a level.</summary>
internal sealed record CompactionJob(IReadOnlyList<Segment> Inputs, IReadOnlyList<Segment> TrivialMoves, int OutputLevel);
