using System.Buffers;
using System.IO.MemoryMappedFiles;
using Pyralog.Storage.Native.Devices;

namespace Pyralog.Storage.Native.Wal;

/// <summary>
/// A read-only memory-mapped file exposed as <see cref="Memory{T}"/>. Recovery replays the WAL through
/// it and the recovered memtable keeps pointing into it, so replay neither copies records nor allocates
/// for them. A memtable holding records here leases the view (<see cref="AddReference"/>): the mapping
/// goes once every lease is released and this object is collected (deleting the file meanwhile is fine
/// on POSIX).
/// </summary>
internal sealed unsafe class MappedFileMemory : MemoryManager<byte>
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _pointer;
    private readonly int _length;

    public MappedFileMemory(IStorageDevice device, string path, int length)
    {
        _map = device.MapReadOnly(path);
        _view = _map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        _pointer = (byte*)_view.SafeMemoryMappedViewHandle.DangerousGetHandle() + _view.PointerOffset;
        _length = length;
    }

    public override Span<byte> GetSpan() => new(_pointer, _length);

    /// <summary>Keeps the view mapped until the matching <see cref="Release"/>, even past this object's
    /// collection. Why: readers hold raw spans into it, which keep nothing reachable, so the view handle's
    /// finalizer must not be what unmaps it (it then only drops its own count).</summary>
    public void AddReference()
    {
        var added = false;
        _view.SafeMemoryMappedViewHandle.DangerousAddRef(ref added);
    }

    public void Release() => _view.SafeMemoryMappedViewHandle.DangerousRelease();

    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _view.Dispose();
            _map.Dispose();
        }
    }
}
