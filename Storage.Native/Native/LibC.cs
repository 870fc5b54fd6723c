using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Pyralog.Storage.Native.Native;

/// <summary>
/// The few POSIX calls .NET does not expose: fdatasync (a data-only flush is what an append needs), fsync of a
/// directory (a created or renamed file is durable only once its directory is) and dropping a file's clean pages from
/// the page cache. Falls back to the portable managed flush elsewhere.
/// </summary>
internal static partial class LibC
{
    private const int ReadOnly = 0; // O_RDONLY
    private static readonly bool IsPosix = OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD();

    /// <summary>Makes the file's data (and the size needed to read it back) durable.</summary>
    public static void SyncData(SafeFileHandle handle, string path)
    {
        if (OperatingSystem.IsLinux())
        {
            var fd = (int)handle.DangerousGetHandle();
            if (fdatasync(fd) != 0)
            {
                throw new IOException($"fdatasync failed on '{path}' (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        else
        {
            RandomAccess.FlushToDisk(handle);
        }
    }

    /// <summary>Makes the directory entries of <paramref name="directory"/> durable (after create/rename/delete).</summary>
    public static void SyncDirectory(string directory)
    {
        if (!IsPosix)
        {
            return;
        }

        var fd = open(directory, ReadOnly);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory '{directory}' to sync it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory '{directory}' failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    /// <summary>Asks the kernel to drop the clean cached pages wholly inside [<paramref name="offset"/>,
    /// <paramref name="offset"/> + <paramref name="length"/>) (posix_fadvise DONTNEED: a page partly outside stays); a hint,
    /// so it cannot fail the caller. Pages still dirty or mapped by a reader stay.</summary>
    public static void DropCachedPages(SafeFileHandle handle, long offset, long length)
    {
        // A length of 0 would mean "to the end of the file" to the kernel.
        if (OperatingSystem.IsLinux() && length > 0)
        {
            _ = posix_fadvise((int)handle.DangerousGetHandle(), offset, length, DontNeed);
        }
    }

    private const int DontNeed = 4; // POSIX_FADV_DONTNEED

    /// <summary>CPU time the calling thread has used (clock_gettime CLOCK_THREAD_CPUTIME_ID); zero where the kernel cannot tell.</summary>
    public static TimeSpan CurrentThreadCpuTime()
    {
        if (!OperatingSystem.IsLinux() || clock_gettime(ThreadCpuTimeClock, out var time) != 0)
        {
            return TimeSpan.Zero;
        }

        return TimeSpan.FromTicks((time.Seconds * TimeSpan.TicksPerSecond) + (time.Nanoseconds / 100));
    }

    private const int ThreadCpuTimeClock = 3; // CLOCK_THREAD_CPUTIME_ID

    [LibraryImport("libc")]
    private static partial int clock_gettime(int clock, out TimeSpec time);

    /// <summary>
    /// Has the kernel back the pages wholly inside <paramref name="memory"/> for writing, all in one call (madvise
    /// MADV_POPULATE_WRITE, Linux 5.14 and later) instead of one page fault per page at first write; the caller still
    /// writes to each page once, which is then much cheaper (on the VM the benchmarks run on: 0.5 µs a page for the call
    /// and 5 for the write, against 10–14 µs a page faulted in by writes alone). A hint: false where the kernel cannot.
    /// </summary>
    public static unsafe bool PopulateForWrite(Span<byte> memory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        var page = (nuint)Environment.SystemPageSize;
        fixed (byte* pointer = memory)
        {
            var start = ((nuint)pointer + page - 1) & ~(page - 1);
            var end = ((nuint)pointer + (nuint)memory.Length) & ~(page - 1);
            return end > start && madvise(start, end - start, PopulateWrite) == 0;
        }
    }

    private const int PopulateWrite = 23; // MADV_POPULATE_WRITE

    [LibraryImport("libc")]
    private static partial int madvise(nuint address, nuint length, int advice);

    /// <summary>
    /// Waits until [<paramref name="waitOffset"/>, <paramref name="offset"/>) is on the disk, then starts writing back
    /// [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) (sync_file_range). Makes nothing
    /// durable (no disk cache flush, no metadata). Throws an <see cref="IOException"/> naming the file, the call and the
    /// errno when the wait reports a writeback error: since Linux 4.14 the wait reports the file's writeback error once
    /// per descriptor (file_check_and_advance_wb_err), so a later fdatasync of the same descriptor returns 0 over the
    /// lost pages, and the caller must fail the file's sync itself. Also throws when starting the writeback fails, except
    /// for lack of memory (ENOMEM, from either call): the pages then stay dirty for the final fdatasync.
    /// </summary>
    public static void WriteBack(SafeFileHandle handle, string path, long waitOffset, long offset, long length)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = (int)handle.DangerousGetHandle();
        // ENOMEM comes only from starting a writeback (the waits report the file's own errors): nothing was told of a
        // failure, and the pages stay dirty for the final fdatasync.
        if (offset > waitOffset && sync_file_range(fd, waitOffset, offset - waitOffset, WaitBefore | Write | WaitAfter) != 0
            && Marshal.GetLastPInvokeError() is var waited && waited != OutOfMemory)
        {
            throw new IOException(
                $"sync_file_range writing back bytes [{waitOffset}, {offset}) of '{path}' failed (errno {waited})");
        }

        if (sync_file_range(fd, offset, length, Write) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != OutOfMemory)
        {
            throw new IOException(
                $"sync_file_range starting the writeback of bytes [{offset}, {offset + length}) of '{path}' failed (errno {errno})");
        }
    }

    private const int OutOfMemory = 12; // ENOMEM

    private const uint WaitBefore = 1; // SYNC_FILE_RANGE_WAIT_BEFORE
    private const uint Write = 2; // SYNC_FILE_RANGE_WRITE
    private const uint WaitAfter = 4; // SYNC_FILE_RANGE_WAIT_AFTER

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sync_file_range(int fd, long offset, long nbytes, uint flags);

    [LibraryImport("libc")]
    private static partial int posix_fadvise(int fd, long offset, long length, int advice);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
