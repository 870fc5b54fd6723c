namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>One file (an inode) of a <see cref="PowerLossDevice"/>: where it lives now and what of it is not durable.</summary>
internal sealed class SimulatedFile
{
    /// <summary>Its current name, or null once deleted or displaced by a rename.</summary>
    public string? CurrentPath { get; set; }

    /// <summary>Its contents when its last name went (the real file is gone, a durable name may still refer to it).</summary>
    public byte[]? ContentsWhenUnlinked { get; set; }

    /// <summary>Changes since its last fdatasync, oldest first. Invariant: undoing them all from the current contents
    /// gives the contents as of that sync.</summary>
    public List<UnsyncedChange> Unsynced { get; } = [];

    /// <summary>Writes whose writeback failed, with what the disk holds there instead (the bytes before the write, zeros
    /// past the file's end then): no sync makes them durable, and a power loss leaves those bytes; the page cache still
    /// serves what was written. Invariant: no later write overlaps one (it would be written back itself).</summary>
    public List<(long Offset, byte[] OnDisk)> FailedWritebacks { get; } = [];

    /// <summary>The file's writeback error as the kernel keeps it (an errseq_t): how many writebacks failed so far, and
    /// whether a descriptor was told of the last one.</summary>
    public int WritebackErrors { get; set; }

    public bool WritebackErrorSeen { get; set; }

    /// <summary>What the disk holds under a write of <paramref name="length"/> bytes at <paramref name="offset"/> that
    /// replaced <paramref name="replaced"/> in the page cache: those bytes, zeros past them, and where an earlier writeback
    /// failed, what that one left.</summary>
    public byte[] OnDiskUnder(long offset, byte[] replaced, int length)
    {
        var onDisk = new byte[length];
        replaced.CopyTo(onDisk, 0);
        foreach (var (at, earlier) in FailedWritebacks)
        {
            var from = Math.Max(at, offset);
            var to = Math.Min(at + earlier.Length, offset + length);
            if (from < to)
            {
                earlier.AsSpan((int)(from - at), (int)(to - from)).CopyTo(onDisk.AsSpan((int)(from - offset)));
            }
        }

        return onDisk;
    }

    /// <summary>A write to [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) is written
    /// back anew: a failed writeback there no longer decides what the disk holds.</summary>
    public void Overwritten(long offset, long length)
    {
        var end = offset + length;
        for (var i = FailedWritebacks.Count - 1; i >= 0; i--)
        {
            var (at, onDisk) = FailedWritebacks[i];
            var failedEnd = at + onDisk.Length;
            if (failedEnd <= offset || at >= end)
            {
                continue;
            }

            FailedWritebacks.RemoveAt(i);
            if (at < offset)
            {
                FailedWritebacks.Add((at, onDisk[..(int)(offset - at)]));
            }

            if (failedEnd > end)
            {
                FailedWritebacks.Add((end, onDisk[(int)(end - at)..]));
            }
        }
    }

    public byte[] CurrentContents() => CurrentPath is not null ? File.ReadAllBytes(CurrentPath) : ContentsWhenUnlinked ?? [];

    /// <summary>The contents after a power loss: as of the last sync, plus the first <paramref name="tornBytes"/>
    /// bytes written since then, in write order (a write torn at any byte), except the first <paramref name="lostBytes"/>
    /// of them (the disk kept later pages of the writes and not earlier ones); where a writeback failed, what the disk
    /// held instead.</summary>
    public byte[] ContentsAfterPowerLoss(long tornBytes, long lostBytes = 0)
    {
        var contents = new List<byte>(CurrentContents());
        for (var i = Unsynced.Count - 1; i >= 0; i--)
        {
            var change = Unsynced[i];
            if (change.IsLengthChange)
            {
                Resize(contents, change.LengthBefore);
                Place(contents, change.Offset, change.Replaced);
            }
            else
            {
                Place(contents, change.Offset, change.Replaced);
                Resize(contents, change.LengthBefore);
            }
        }

        foreach (var change in Unsynced)
        {
            if (tornBytes <= 0)
            {
                break;
            }

            if (change.IsLengthChange)
            {
                Resize(contents, change.Offset);
                continue;
            }

            var kept = (int)Math.Min(tornBytes, change.Written.Length);
            var skipped = (int)Math.Clamp(lostBytes, 0, kept);
            Place(contents, change.Offset + skipped, change.Written.AsSpan(skipped, kept - skipped));
            tornBytes -= kept;
            lostBytes -= skipped;
        }

        foreach (var (offset, onDisk) in FailedWritebacks)
        {
            if (offset < contents.Count)
            {
                Place(contents, offset, onDisk.AsSpan(0, (int)Math.Min(onDisk.Length, contents.Count - offset)));
            }
        }

        return [.. contents];
    }

    private static void Resize(List<byte> contents, long length)
    {
        if (contents.Count > length)
        {
            contents.RemoveRange((int)length, contents.Count - (int)length);
        }

        while (contents.Count < length)
        {
            contents.Add(0);
        }
    }

    private static void Place(List<byte> contents, long offset, ReadOnlySpan<byte> bytes)
    {
        if (contents.Count < offset + bytes.Length)
        {
            Resize(contents, offset + bytes.Length);
        }

        for (var i = 0; i < bytes.Length; i++)
        {
            contents[(int)offset + i] = bytes[i];
        }
    }
}
