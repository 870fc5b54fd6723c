using System.Runtime.InteropServices;

namespace Pyralog.Storage.Native.FileSystem;

/// <summary>
/// fsync of a directory, which makes a file's creation, rename or removal in it durable. .NET has no API for it;
/// on Linux and macOS it is open(O_RDONLY|O_DIRECTORY) + fsync. Windows makes directory entries durable
/// with the file itself, so there it is a no-op.
/// </summary>
internal static partial class DirectorySync
{
    private const int ReadOnly = 0;
    private const int LinuxDirectoryFlag = 0x10000;
    private const int MacDirectoryFlag = 0x100000;

    public static void Fsync(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var flags = ReadOnly | (OperatingSystem.IsMacOS() ? MacDirectoryFlag : LinuxDirectoryFlag);
        var fd = Open(directory, flags);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory '{directory}' to sync it: errno {Marshal.GetLastPInvokeError()}.");
        }

        try
        {
            if (FsyncFd(fd) != 0)
            {
                throw new IOException($"fsync of directory '{directory}' failed: errno {Marshal.GetLastPInvokeError()}.");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncFd(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
