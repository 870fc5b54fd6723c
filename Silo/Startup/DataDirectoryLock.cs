namespace Pyralog.Silo.Startup;

/// <summary>
/// Holds <c>&lt;data&gt;/LOCK</c> open with an exclusive OS advisory lock (on Linux .NET takes <c>flock(LOCK_EX)</c> for
/// <see cref="FileShare.None"/>) for the silo's lifetime, so two silos never share a data directory. The lock dies with
/// the process, however it ends; the file keeps the holder's pid for people to read.
/// </summary>
internal sealed class DataDirectoryLock : IDisposable
{
    public const string FileName = "LOCK";

    // A lock held elsewhere: on Unix .NET reports the failed flock's errno (EWOULDBLOCK, 11 on Linux) as the HResult,
    // on Windows the sharing violation's HRESULT.
    private const int WouldBlock = 11;
    private const int SharingViolation = unchecked((int)0x80070020);

    private readonly FileStream _file;

    private DataDirectoryLock(FileStream file)
    {
        _file = file;
    }

    /// <summary>Creates the directory if needed, checks it takes durable writes, then locks it.</summary>
    /// <exception cref="StartupRefusedException">Not writable, or another process holds the lock.</exception>
    public static DataDirectoryLock Acquire(string directory)
    {
        EnsureWritable(directory);
        var path = Path.Combine(directory, FileName);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e.HResult is WouldBlock or SharingViolation)
        {
            var holders = OpenFiles.Holders(link => link == path);
            var by = holders.Count == 0 ? "another process" : string.Join(", ", holders);
            throw new StartupRefusedException(
                ExitCodes.BadInput, $"data directory {directory} is in use by {by} (it holds {path}); give each silo its own --data-dir.");
        }

        try
        {
            file.SetLength(0);
            using (var pid = new StreamWriter(file, leaveOpen: true))
            {
                pid.WriteLine(Environment.ProcessId);
            }

            file.Flush(flushToDisk: true);
            return new DataDirectoryLock(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            file.Dispose();
            throw NotWritable(directory, e);
        }
    }

    // The file stays behind: deleting it would let a newcomer lock a new file while a waiting one locks the old inode.
    public void Dispose() => _file.Dispose();

    /// <summary>Creates, fsyncs and deletes a probe file, so a directory that cannot take the silo's files stops it now.</summary>
    private static void EnsureWritable(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupRefusedException(ExitCodes.BadInput, $"cannot create data directory {directory}: {e.Message}", e);
        }

        var probe = Path.Combine(directory, $".probe-{Environment.ProcessId}");
        try
        {
            using (var file = new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                file.WriteByte(0);
                file.Flush(flushToDisk: true);
            }

            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw NotWritable(directory, e);
        }
    }

    private static StartupRefusedException NotWritable(string directory, Exception e) =>
        new(ExitCodes.BadInput, $"data directory {directory} is not writable: {e.Message}", e);
}
