using System.IO.MemoryMappedFiles;
using Pyralog.Storage.Native.Native;

namespace Pyralog.Storage.Native.Devices;

/// <summary>The real file system (the default device).</summary>
internal sealed class FileSystemDevice : IStorageDevice
{
    public static readonly FileSystemDevice Instance = new();

    private FileSystemDevice()
    {
    }

    public void CreateDirectory(string directory) => Directory.CreateDirectory(directory);

    public bool DirectoryExists(string directory) => Directory.Exists(directory);

    public IEnumerable<string> EnumerateFiles(string directory) => Directory.EnumerateFiles(directory);

    public bool Exists(string path) => File.Exists(path);

    public long GetLength(string path) => new FileInfo(path).Length;

    public DeviceFile Open(string path, FileMode mode) =>
        new FileSystemFile(path, File.OpenHandle(path, mode, FileAccess.ReadWrite, FileShare.Read));

    public byte[] ReadAllBytes(string path) => File.ReadAllBytes(path);

    public void Delete(string path) => File.Delete(path);

    public void Move(string source, string destination, bool overwrite) => File.Move(source, destination, overwrite);

    public void SyncDirectory(string directory) => LibC.SyncDirectory(directory);

    public MemoryMappedFile MapReadOnly(string path) =>
        MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
}
