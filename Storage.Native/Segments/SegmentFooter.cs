namespace Pyralog.Storage.Native.Segments;

/// <summary>
/// Where a segment's meta block, index and bloom filter lie, as its footer records them (lengths include each
/// region's CRC). Kept from the open so every later verification of a mapping can tell a footer that changed since.
/// </summary>
internal readonly record struct SegmentFooter(
    ushort Version, long MetaPosition, int MetaBytes, long IndexPosition, int IndexBytes, long BloomPosition, int BloomBytes)
{
    /// <summary>The bytes every verification of the segment's tail checksums.</summary>
    public long VerifiedBytes => (long)MetaBytes + IndexBytes + BloomBytes;
}
