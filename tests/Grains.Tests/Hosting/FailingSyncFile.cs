using Pyralog.Storage.Native.Devices;

namespace Pyralog.Grains.Tests.Hosting;

/// <summary>A WAL file of <see cref="FailingSyncDevice"/>: everything goes to the real file, a sync fails when the device says so.</summary>
internal sealed class FailingSyncFile(FailingSyncDevice device, DeviceFile file) : DeviceFile(file.Path)
{
    public override long Length => file.Length;

    public override void Write(ReadOnlySpan<byte> data, long offset) => file.Write(data, offset);

    public override void Write(IReadOnlyList<ReadOnlyMemory<byte>> buffers, long offset) => file.Write(buffers, offset);

    public override void SetLength(long length) => file.SetLength(length);

    public override void DropCachedPages(long offset, long length) => file.DropCachedPages(offset, length);

    public override void WriteBack(long waitOffset, long offset, long length) => file.WriteBack(waitOffset, offset, length);

    public override void SyncData()
    {
        if (device.TakeWalSyncFailure())
        {
            throw new IOException($"injected fdatasync failure on '{Path}'");
        }

        file.SyncData();
    }

    public override void Dispose() => file.Dispose();
}
