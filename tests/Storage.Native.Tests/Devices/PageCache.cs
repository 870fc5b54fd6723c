using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace Pyralog.Storage.Native.Tests.Devices;

/// <summary>Which of a file's pages the page cache holds (mincore over a mapping, which faults nothing in).</summary>
internal static partial class PageCache
{
    public const int PageBytes = 4096;

    /// <summary>Resident pages among those of [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>);
    /// <paramref name="offset"/> is a multiple of <see cref="PageBytes"/>.</summary>
    public static unsafe int ResidentPages(string path, long offset, long length)
    {
        using var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        using var view = map.CreateViewAccessor(offset, length, MemoryMappedFileAccess.Read);
        byte* start = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        try
        {
            var residency = new byte[(length + PageBytes - 1) / PageBytes];
            fixed (byte* vector = residency)
            {
                Assert.Equal(0, mincore(start + view.PointerOffset, (nuint)length, vector));
            }

            var resident = 0;
            foreach (var page in residency)
            {
                resident += page & 1;
            }

            return resident;
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int mincore(byte* address, nuint length, byte* vector);
}
