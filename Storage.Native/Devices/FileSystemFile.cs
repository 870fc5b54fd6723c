using Microsoft.Win32.SafeHandles;
using Pyralog.Storage.Native.Native;

namespace Pyralog.Storage.Native.Devices;

/// <summary>A file of the real file system: RandomAccess and the POSIX calls in <see cref="LibC"/>, nothing in between.</summary>
internal sealed class FileSystemFile : DeviceFile
{
    private readonly SafeFileHandle _handle;

    public FileSystemFile(string path, SafeFileHandle handle)
        : base(path)
    {
        _handle = handle;
    }

    public override long Length => RandomAccess.GetLength(_handle);

    public override void Write(ReadOnlySpan<byte> data, long offset) => RandomAccess.Write(_handle, data, offset);

    public override void Write(IReadOnlyList<ReadOnlyMemory<byte>> buffers, long offset) => RandomAccess.Write(_handle, buffers, offset);

    public override void SetLength(long length) => RandomAccess.SetLength(_handle, length);

    public override void DropCachedPages(long offset, long length) =>
        WhileOpen((offset, length), static (handle, range) => LibC.DropCachedPages(handle, range.offset, range.length));

    public override void SyncData() => WhileOpen(Path, LibC.SyncData);

    public override void WriteBack(long waitOffset, long offset, long length) =>
        WhileOpen((Path, waitOffset, offset, length), static (handle, range) => LibC.WriteBack(handle, range.Path, range.waitOffset, range.offset, range.length));

    /// <summary>Runs a call on the descriptor with a reference held, so a call racing Dispose cannot hit a closed (and
    /// reused) descriptor. Static delegates and a state argument: no allocation per call.</summary>
    private void WhileOpen<TState>(TState state, Action<SafeFileHandle, TState> call)
    {
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            call(_handle, state);
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    public override void Dispose() => _handle.Dispose();
}
