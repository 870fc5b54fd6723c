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

    public byte[] CurrentContents() => CurrentPath is not null ? File.ReadAllBytes(CurrentPath) : ContentsWhenUnlinked ?? [];

    /// <summary>The contents after a power loss: as of the last sync, plus the first <paramref name="tornBytes"/>
    /// bytes written since then, in write order (a write torn at any byte), except the first <paramref name="lostBytes"/>
    /// of them (the disk kept later pages of the writes and not earlier ones).</summary>
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
