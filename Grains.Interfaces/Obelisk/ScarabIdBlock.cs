namespace Pyralog.Grains.Interfaces.Obelisk;

/// <summary>
/// A contiguous run of Scarab IDs of one obelisk: <see cref="Count"/> IDs starting at <see cref="First"/>,
/// following the obelisk's sequence (sequence numbers, rolling to sequence 0 of the next millisecond).
/// Whoever holds the block hands its IDs out itself; they are unique because no one else was given them.
/// </summary>
[GenerateSerializer]
[Immutable]
[Alias("pyralog.ScarabIdBlock")]
public readonly record struct ScarabIdBlock
{
    /// <summary>The most IDs one block may hold: 64 Ki, eight milliseconds of one obelisk's sequence space.</summary>
    public const int MaxCount = 65_536;

    public ScarabIdBlock(ScarabId first, int count)
    {
        ValidateCount(count);
        First = first;
        Count = count;
    }

    [Id(0)]
    public ScarabId First { get; }

    [Id(1)]
    public int Count { get; }

    public ScarabId Last => this[Count - 1];

    /// <summary>The <paramref name="index"/>-th ID of the block.</summary>
    public ScarabId this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count)
            {
                throw new ArgumentOutOfRangeException(nameof(index), index, $"The block holds {Count} IDs.");
            }

            var position = (ulong)First.Sequence + (uint)index;
            return new ScarabId(ScarabId.Compose(
                First.Milliseconds + (position >> ScarabId.SequenceBits),
                First.ObeliskId,
                (int)(position & ScarabId.MaxSequence)));
        }
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the count unless it is in 1..<see cref="MaxCount"/>.</summary>
    public static void ValidateCount(int count)
    {
        if (count is < 1 or > MaxCount)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"A block of Scarab IDs holds 1..{MaxCount} IDs.");
        }
    }
}
