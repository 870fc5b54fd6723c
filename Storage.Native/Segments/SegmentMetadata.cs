namespace Pyralog.Storage.Native.Segments;

/// <summary>What the manifest records about a live segment.</summary>
internal sealed record SegmentMetadata(
    long FileNumber, long SizeBytes, byte[] MinKey, byte[] MaxKey, long EntryCount, long TombstoneCount, long LogCount);
