using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native.Compaction;

/// <summary>
/// Chooses background compaction work, LevelDB style: L0 (overlapping flush outputs) is merged into
/// L1 once it has <see cref="PyramidOptions.L0CompactionTrigger"/> segments; a deeper level over its
/// size target pushes one segment (round robin by key) into the next level. A segment that overlaps
/// nothing below just moves, which is why log segments (dense, ever-increasing offsets) are written
/// once by flush and never rewritten.
/// </summary>
internal static class CompactionPicker
{
    public const int MaxLevels = 7;

    public static CompactionJob? Pick(Segment[][] levels, PyramidOptions options, byte[]?[] pointers)
    {
        if (levels[0].Length >= options.L0CompactionTrigger)
        {
            return PickLevelZero(levels);
        }

        var target = options.L1TargetBytes;
        for (var level = 1; level < MaxLevels - 1; level++, target *= options.LevelSizeMultiplier)
        {
            long bytes = 0;
            foreach (var segment in levels[level])
            {
                bytes += segment.Metadata.SizeBytes;
            }

            if (bytes <= target || levels[level].Length == 0)
            {
                continue;
            }

            var chosen = levels[level][0];
            foreach (var segment in levels[level])
            {
                if (pointers[level] is null || segment.Metadata.MinKey.AsSpan().SequenceCompareTo(pointers[level]) > 0)
                {
                    chosen = segment;
                    break;
                }
            }

            pointers[level] = chosen.Metadata.MinKey;
            var below = Overlapping(levels[level + 1], chosen.Metadata.MinKey, chosen.Metadata.MaxKey);
            return below.Count == 0
                ? new CompactionJob([], [chosen], level + 1)
                : new CompactionJob([chosen, .. below], [], level + 1);
        }

        return null;
    }

    /// <summary>Everything into one sorted run at the deepest occupied level (at least L1).</summary>
    public static CompactionJob? PickFull(Segment[][] levels)
    {
        var inputs = new List<Segment>();
        var output = 1;
        for (var level = 0; level < levels.Length; level++)
        {
            inputs.AddRange(levels[level]);
            if (levels[level].Length > 0)
            {
                output = Math.Max(output, level);
            }
        }

        return inputs.Count == 0 ? null : new CompactionJob(inputs, [], output);
    }

    private static CompactionJob PickLevelZero(Segment[][] levels)
    {
        var l0 = levels[0];
        var moves = new List<Segment>();
        var merge = new List<Segment>();
        foreach (var segment in l0)
        {
            var alone = Overlapping(levels[1], segment.Metadata.MinKey, segment.Metadata.MaxKey).Count == 0;
            foreach (var other in l0)
            {
                alone &= ReferenceEquals(other, segment) || !Overlap(other, segment.Metadata.MinKey, segment.Metadata.MaxKey);
            }

            (alone ? moves : merge).Add(segment);
        }

        if (merge.Count == 0)
        {
            return new CompactionJob([], moves, 1);
        }

        // Moved segments must not overlap the merged range either, or the newest-wins order would break;
        // pulling one in widens the range, so repeat until nothing moved overlaps.
        var (min, max) = Range(merge);
        while (moves.FindIndex(s => Overlap(s, min, max)) is var i and >= 0)
        {
            merge.Add(moves[i]);
            moves.RemoveAt(i);
            (min, max) = Range(merge);
        }

        merge.Sort((a, b) => b.FileNumber.CompareTo(a.FileNumber));
        return new CompactionJob([.. merge, .. Overlapping(levels[1], min, max)], moves, 1);
    }

    private static (byte[] Min, byte[] Max) Range(List<Segment> segments)
    {
        byte[] min = segments[0].Metadata.MinKey, max = segments[0].Metadata.MaxKey;
        foreach (var segment in segments)
        {
            if (segment.Metadata.MinKey.AsSpan().SequenceCompareTo(min) < 0)
            {
                min = segment.Metadata.MinKey;
            }

            if (segment.Metadata.MaxKey.AsSpan().SequenceCompareTo(max) > 0)
            {
                max = segment.Metadata.MaxKey;
            }
        }

        return (min, max);
    }

    private static List<Segment> Overlapping(Segment[] level, byte[] min, byte[] max)
    {
        var result = new List<Segment>();
        foreach (var segment in level)
        {
            if (Overlap(segment, min, max))
            {
                result.Add(segment);
            }
        }

        return result;
    }

    private static bool Overlap(Segment segment, byte[] min, byte[] max) =>
        segment.Metadata.MaxKey.AsSpan().SequenceCompareTo(min) >= 0 && segment.Metadata.MinKey.AsSpan().SequenceCompareTo(max) <= 0;
}
