namespace Pyralog.Storage.Native.Segments;

/// <summary>What a verification of a segment's tail reads from its checksummed regions: the index's block count and
/// the bloom filter's hash and bit counts. Kept on the heap from the open, so reads never take them from the mapping.</summary>
internal readonly record struct SegmentTail(int IndexCount, int BloomHashes, uint BloomBits);
