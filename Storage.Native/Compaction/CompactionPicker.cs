using Pyralog.Storage.Native.Keys;
using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native.Compaction;

/// <summary>
/// Chooses background compaction work, LevelDB style: L0 (overlapping flush outputs) is merged into
/// L1 once it has <see cref="PyramidOptions.L0CompactionTrigger"/> segments; a deeper level over its
/// size target pushes one segment (round robin by key) into the next level. A segment that overlaps
/// nothing below just moves: flush gives each busy log segments of its own, and a log's records only grow
/// in offset, so these are not rewritten by merges with other data. Small one-log segments next to each other
/// are merged as they go down (<see cref="Consolidation"/>), so a busy log does not keep a file per flush.
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

            var segments = levels[level];
            var index = 0;
            for (var i = 0; i < segments.Length; i++)
            {
                if (pointers[level] is null || segments[i].Metadata.MinKey.AsSpan().SequenceCompareTo(pointers[level]) > 0)
                {
                    index = i;
                    break;
                }
            }

            var picked = Consolidation(segments, index, options);
            pointers[level] = picked[^1].Metadata.MinKey;
            var below = Overlapping(levels[level + 1], picked[0].Metadata.MinKey, picked[^1].Metadata.MaxKey);
            return below.Count == 0 && picked.Count == 1
                ? new CompactionJob([], picked, level + 1)
                : new CompactionJob([.. picked, .. below], [], level + 1);
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

    /// <summary>
    /// The segment at <paramref name="index"/>, and when it holds one log's records and is small (under
    /// <see cref="PyramidOptions.SmallLogSegmentBytes"/>), the segments of that log right after it in the level while they
    /// are small too, up to a target segment's size: flushes give a busy log a segment each, and merging them as they go
    /// down keeps the number of files in check. Merging these rewrites only that log's records; nothing of another log
    /// overlaps them.
    /// </summary>
    private static List<Segment> Consolidation(Segment[] segments, int index, PyramidOptions options)
    {
        var picked = new List<Segment> { segments[index] };
        var small = options.SmallLogSegmentBytes;
        if (SingleLog(segments[index]) is not { } log || segments[index].Metadata.SizeBytes >= small)
        {
            return picked;
        }

        var bytes = segments[index].Metadata.SizeBytes;
        for (var i = index + 1; i < segments.Length; i++)
        {
            var next = segments[i];
            if (SingleLog(next) != log || next.Metadata.SizeBytes >= small || bytes + next.Metadata.SizeBytes > options.TargetSegmentBytes)
            {
                break;
            }

            picked.Add(next);
            bytes += next.Metadata.SizeBytes;
        }

        return picked;
    }

    /// <summary>The log whose records are all a segment holds, if it holds one log's records only.</summary>
    private static ulong? SingleLog(Segment segment)
    {
        var (min, max) = (segment.Metadata.MinKey, segment.Metadata.MaxKey);
        return KeyCodec.IsLogKey(min) && KeyCodec.IsLogKey(max) && KeyCodec.ReadLogId(min) == KeyCodec.ReadLogId(max)
            ? KeyCodec.ReadLogId(min)
            : null;
    }

    /// <summary>
    /// L0 in groups of segments whose key ranges chain together. A group of one that overlaps nothing in L1 moves;
    /// the largest other group merges with the L1 segments it overlaps; the rest wait for the next pick. Groups are
    /// disjoint, so each is merged on its own: one merge over all of them would span the key space between them (a
    /// flush's markers and key/values lie on both sides of the log space) and rewrite every L1 segment there.
    /// </summary>
    private static CompactionJob PickLevelZero(Segment[][] levels)
    {
        var moves = new List<Segment>();
        List<Segment>? merge = null;
        List<Segment> below = [];
        foreach (var group in OverlapGroups(levels[0]))
        {
            var (min, max) = Range(group);
            var overlapped = Overlapping(levels[1], min, max);
            if (group.Count == 1 && overlapped.Count == 0)
            {
                moves.Add(group[0]);
            }
            else if (merge is null || group.Count > merge.Count)
            {
                (merge, below) = (group, overlapped);
            }
        }

        if (merge is null)
        {
            return new CompactionJob([], moves, 1);
        }

        merge.Sort((a, b) => b.FileNumber.CompareTo(a.FileNumber));
        return new CompactionJob([.. merge, .. below], moves, 1);
    }

    /// <summary>Segments in groups whose key ranges chain together: sorted by first key, a group ends where the next
    /// segment starts after the furthest end so far.</summary>
    private static List<List<Segment>> OverlapGroups(Segment[] segments)
    {
        var sorted = (Segment[])segments.Clone();
        Array.Sort(sorted, (a, b) => a.Metadata.MinKey.AsSpan().SequenceCompareTo(b.Metadata.MinKey));
        var groups = new List<List<Segment>>();
        byte[]? furthest = null;
        foreach (var segment in sorted)
        {
            if (furthest is null || segment.Metadata.MinKey.AsSpan().SequenceCompareTo(furthest) > 0)
            {
                groups.Add([]);
                furthest = segment.Metadata.MaxKey;
            }
            else if (segment.Metadata.MaxKey.AsSpan().SequenceCompareTo(furthest) > 0)
            {
                furthest = segment.Metadata.MaxKey;
            }

            groups[^1].Add(segment);
        }

        return groups;
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
