using System.IO.MemoryMappedFiles;
using Pyralog.Storage.Native.Devices;

namespace Pyralog.Grains.Tests.Hosting;

/// <summary>The real file system, except that the next fdatasync of a WAL file can be made to fail (as on a disk that
/// reports a writeback error).</summary>
internal sealed class FailingSyncDevice : IStorageDevice
{
    private static readonly IStorageDevice Disk = FileSystemDevice.Instance;
    private int _failNextWalSync;

    public void FailNextWalSync() => Volatile.Write(ref _failNextWalSync, 1);

    /// <summary>Called by a WAL file's sync: true once after <see cref="FailNextWalSync"/>.</summary>
    internal bool TakeWalSyncFailure() => Interlocked.Exchange(ref _failNextWalSync, 0) == 1;

    public void CreateDirectory(string directory) => Disk.CreateDirectory(directory);

    public IEnumerable<string> EnumerateFiles(string directory) => Disk.EnumerateFiles(directory);

    public bool Exists(string path) => Disk.Exists(path);

    public long GetLength(string path) => Disk.GetLength(path);

    public DeviceFile Open(string path, FileMode mode)
    {
        var file = Disk.Open(path, mode);
        return Path.GetFileName(path).StartsWith("wal-", StringComparison.Ordinal) ? new FailingSyncFile(this, file) : file;
    }

    public byte[] ReadAllBytes(string path) => Disk.ReadAllBytes(path);

    public void Delete(string path) => Disk.Delete(path);

    public void Move(string source, string destination, bool overwrite) => Disk.Move(source, destination, overwrite);

    public void SyncDirectory(string directory) => Disk.SyncDirectory(directory);

    public MemoryMappedFile MapReadOnly(string path) => Disk.MapReadOnly(path);
}
