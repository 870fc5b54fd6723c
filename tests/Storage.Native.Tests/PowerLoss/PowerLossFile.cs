using Microsoft.Win32.SafeHandles;
using Pyralog.Storage.Native.Devices;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>An open file of a <see cref="PowerLossDevice"/>: writes the real file and records what is not yet synced.</summary>
internal sealed class PowerLossFile : DeviceFile
{
    private readonly PowerLossDevice _device;
    private readonly SimulatedFile _file;
    private readonly SafeFileHandle _handle;
    // This descriptor's writeback error cursor (a file's f_wb_err): a failed writeback is reported once to each
    // descriptor, by the first call on it that waits for writeback.
    private int _writebackErrorsSeen;

    /// <summary>Called by the device, which holds its lock.</summary>
    public PowerLossFile(PowerLossDevice device, SimulatedFile file, string path, SafeFileHandle handle)
        : base(path)
    {
        _device = device;
        _file = file;
        _handle = handle;
        // As Linux samples it at open: an error no descriptor was told of yet is reported to this one too.
        _writebackErrorsSeen = file.WritebackErrorSeen ? file.WritebackErrors : 0;
    }

    public override long Length => RandomAccess.GetLength(_handle);

    public override void Write(ReadOnlySpan<byte> data, long offset) => _device.Write(_file, _handle, data, offset);

    public override void Write(IReadOnlyList<ReadOnlyMemory<byte>> buffers, long offset)
    {
        var gathered = new List<byte>();
        foreach (var buffer in buffers)
        {
            gathered.AddRange(buffer.Span);
        }

        _device.Write(_file, _handle, [.. gathered], offset);
    }

    public override void SetLength(long length) => _device.SetLength(_file, _handle, length);

    public override void DropCachedPages(long offset, long length) => _device.DropCachedPages(_file, Path);

    // Writeback makes nothing durable, so a power loss after it still drops every byte not covered by a sync: the model
    // has nothing to record. Its wait (when there is a range to wait for) reports a failed writeback, as the kernel's does.
    public override void WriteBack(long waitOffset, long offset, long length)
    {
        if (offset > waitOffset)
        {
            _device.WaitForWriteback(_file, Path, ref _writebackErrorsSeen);
        }
    }

    public override void SyncData()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        _device.SyncData(_file, Path, ref _writebackErrorsSeen);
    }

    public override void Dispose() => _handle.Dispose();
}
