using Pyralog.Storage.Native.Iteration;
using Pyralog.Storage.Native.Keys;
using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native.Compaction;

/// <summary>
/// Executes a <see cref="CompactionJob"/>: merges its inputs (newest wins per key) into new segments
/// of the output level. Drops shadowed versions, log records and retention markers below their log's
/// durable first offset, and tombstones once no deeper level can hold an older value of their key.
/// </summary>
internal static class Compactor
{
    /// <summary>Merges the job's inputs; each output segment is completed, then made durable by
    /// <paramref name="syncSegment"/> (given the segment's sync: run it inline, or hand it over), before the next starts.
    /// Its writers use <paramref name="buffers"/>, one after another.</summary>
    public static List<SegmentMetadata> Merge(
        CompactionJob job, Segment[][] levels, string directory, PyramidOptions options, IReadOnlyDictionary<ulong, ulong> firstOffsets,
        Func<long> nextFileNumber, RateLimiter? limiter, SegmentWriterBuffers buffers, Action<Action> syncSegment, out long bytesRead)
    {
        var pins = new SegmentPins();
        var sources = Sources(job.Inputs, pins);
        bytesRead = 0;
        foreach (var input in job.Inputs)
        {
            bytesRead += input.Metadata.SizeBytes;
        }

        var outputs = new List<SegmentMetadata>();
        SegmentWriter? writer = null;
        try
        {
            var merged = new MergingIterator(sources);
            merged.Seek([]);
            while (merged.Valid)
            {
                var key = merged.Key;
                if (!IsDroppable(key, merged.IsTombstone, levels, job.OutputLevel, firstOffsets))
                {
                    // A segment never spans two key spaces (it would overlap all of the log space between them), and one
                    // that ends where a log ends overlaps none of that log's later records.
                    if (writer is not null && (!KeyCodec.SameSpace(key, writer.LastKey) ||
                        (KeyCodec.IsLogKey(key) && KeyCodec.ReadLogId(key) != KeyCodec.ReadLogId(writer.LastKey) && writer.Length >= options.SeparateLogSegmentBytes)))
                    {
                        outputs.Add(Finish(writer, syncSegment));
                        writer.Dispose();
                        writer = null;
                    }

                    writer ??= new SegmentWriter(options.Device, directory, nextFileNumber(), options.BlockBytes, options.BloomBitsPerKey, limiter, buffers);
                    writer.Add(merged.IsTombstone ? SegmentFormat.KindDelete : SegmentFormat.KindPut, key, merged.Value);
                    if (writer.Length >= options.TargetSegmentBytes)
                    {
                        outputs.Add(Finish(writer, syncSegment));
                        writer.Dispose();
                        writer = null;
                    }
                }

                merged.Next();
            }

            if (writer is not null)
            {
                outputs.Add(Finish(writer, syncSegment));
                writer.Dispose();
                writer = null;
            }

            return outputs;
        }
        catch
        {
            // Best effort: the failure to report is the merge's own.
            try
            {
                writer?.Dispose();
                foreach (var output in outputs)
                {
                    options.Device.Delete(Path.Combine(directory, SegmentFormat.FileName(output.FileNumber)));
                }
            }
            catch (IOException)
            {
                // Left as orphans: the next open deletes them.
            }

            throw;
        }
        finally
        {
            pins.Release();
        }
    }

    /// <summary>
    /// One source per stretch of inputs (newest first) whose segments follow one another in key order without
    /// overlapping, as a level's segments do: read through a <see cref="LevelIterator"/>, such a stretch holds one
    /// mapping at a time, so a merge into a level of many segments stays near the store's mapping limit. Segments of
    /// a stretch share no key, so reading them as one source keeps every key's newest-first order.
    /// </summary>
    private static IEntryIterator[] Sources(IReadOnlyList<Segment> inputs, SegmentPins pins)
    {
        var sources = new List<IEntryIterator>();
        for (var start = 0; start < inputs.Count;)
        {
            var end = start + 1;
            while (end < inputs.Count && inputs[end].Metadata.MinKey.AsSpan().SequenceCompareTo(inputs[end - 1].Metadata.MaxKey) > 0)
            {
                end++;
            }

            if (end - start == 1)
            {
                sources.Add(new SegmentIterator(inputs[start], pins));
            }
            else
            {
                var run = new Segment[end - start];
                for (var i = 0; i < run.Length; i++)
                {
                    run[i] = inputs[start + i];
                }

                sources.Add(new LevelIterator(run, pins));
            }

            start = end;
        }

        return [.. sources];
    }

    private static bool IsDroppable(ReadOnlySpan<byte> key, bool tombstone, Segment[][] levels, int outputLevel, IReadOnlyDictionary<ulong, ulong> firstOffsets)
    {
        if (KeyCodec.IsLogKey(key))
        {
            return firstOffsets.TryGetValue(KeyCodec.ReadLogId(key), out var first) && KeyCodec.ReadLogOffset(key) < first;
        }

        if (KeyCodec.IsMarkerKey(key) && firstOffsets.TryGetValue(KeyCodec.ReadMarkerLogId(key), out var markerFirst)
            && KeyCodec.ReadMarkerOffset(key) < markerFirst)
        {
            return true;
        }

        if (!tombstone)
        {
            return false;
        }

        for (var level = outputLevel + 1; level < levels.Length; level++)
        {
            foreach (var segment in levels[level])
            {
                if (segment.MayContain(key))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static SegmentMetadata Finish(SegmentWriter writer, Action<Action> syncSegment)
    {
        var metadata = writer.Finish(sync: false);
        syncSegment(writer.Sync);
        return metadata;
    }
}
