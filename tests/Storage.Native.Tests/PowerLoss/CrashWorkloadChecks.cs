using Pyralog.Storage.Native.CrashChild;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>The crash workload's batches and the check of what a reopened store holds, shared by the in-process power-loss tests.</summary>
internal static class CrashWorkloadChecks
{
    public const ulong Log = 1;

    /// <summary>The crash child's options (small memtables, eager background flush and compaction) on <paramref name="device"/>.</summary>
    public static PyramidOptions Options(PowerLossDevice device, DurabilityMode durability = DurabilityMode.PerBatch) => new()
    {
        Durability = durability,
        SyncInterval = TimeSpan.FromMilliseconds(2),
        MemtableBytes = 256 << 10,
        BlockBytes = 2048,
        TargetSegmentBytes = 256 << 10,
        L1TargetBytes = 512 << 10,
        L0CompactionTrigger = 2,
        CompactionBytesPerSecond = 0,
        Device = device,
    };

    /// <summary>Fills <paramref name="batch"/> with <paramref name="count"/> records from <paramref name="next"/> and the put of the new end.</summary>
    public static void Fill(WriteBatch batch, ulong next, int count)
    {
        batch.Clear();
        for (var i = 0; i < count; i++)
        {
            batch.Append(Log, 1, next + (ulong)i, CrashWorkload.Payload(next + (ulong)i));
        }

        batch.Put(CrashWorkload.AckedKey, BitConverter.GetBytes(next + (ulong)count));
    }

    /// <summary>The log holds exactly the workload's records up to its end, and the KV put of the same batches agrees.</summary>
    public static async Task<ulong> AssertIntactAsync(PyramidStore store, string context)
    {
        var next = store.GetLogBounds(Log).Next;
        var acked = await store.GetAsync(CrashWorkload.AckedKey);
        Assert.True(next == 0 ? acked is null : acked is not null && BitConverter.ToUInt64(acked) == next, $"{context}: KV and log of one batch disagree");
        using var cursor = store.ReadLog(Log, 0);
        ulong expected = 0;
        while (cursor.MoveNext())
        {
            Assert.True(cursor.Offset == expected && cursor.Payload.SequenceEqual(CrashWorkload.Payload(expected)), $"{context}: record {expected} is wrong");
            expected++;
        }

        Assert.Equal(next, expected);
        return next;
    }
}
