namespace Pyralog.Silo.Startup;

/// <summary>
/// Which processes hold a file or socket open, read from <c>/proc/&lt;pid&gt;/fd</c> (Linux only; elsewhere, and for
/// processes of other users when not root, nothing is found).
/// </summary>
internal static class OpenFiles
{
    /// <summary>Processes with an open descriptor whose link target (a path, or <c>socket:[inode]</c>) satisfies <paramref name="target"/>.</summary>
    public static IReadOnlyList<ProcessRef> Holders(Func<string, bool> target)
    {
        var holders = new List<ProcessRef>();
        if (!OperatingSystem.IsLinux())
        {
            return holders;
        }

        foreach (var processDirectory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(processDirectory), out var pid))
            {
                continue;
            }

            try
            {
                foreach (var descriptor in Directory.EnumerateFileSystemEntries(Path.Combine(processDirectory, "fd")))
                {
                    if (new FileInfo(descriptor).LinkTarget is { } link && target(link))
                    {
                        holders.Add(new ProcessRef(pid, File.ReadAllText(Path.Combine(processDirectory, "comm")).TrimEnd('\n')));
                        break;
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process exited while we looked, or belongs to another user: it cannot be named.
            }
        }

        return holders;
    }
}
