namespace Pyralog.Cli.Output;

/// <summary>
/// Cancels <see cref="Gone"/> once nothing reads stdout any more (<c>consume --follow | head</c> after head ended), so a
/// command that waits for something to print (a follow on a quiet log) ends then, not at its next write. A background
/// thread blocks in poll(2) for it; on Windows, or when stdout is a file, <see cref="Gone"/> never fires.
/// </summary>
internal sealed class OutputReaderWatch
{
    private readonly CancellationTokenSource _gone = new();

    private OutputReaderWatch()
    {
    }

    /// <summary>Cancelled once nothing reads the watched descriptor.</summary>
    public CancellationToken Gone => _gone.Token;

    /// <summary>Watches <paramref name="descriptor"/> (stdout by default).</summary>
    public static OutputReaderWatch Start(int descriptor = 1)
    {
        var watch = new OutputReaderWatch();
        if (OperatingSystem.IsWindows())
        {
            return watch;
        }

        // A thread of its own, blocked in poll for the whole command (a background thread: it does not hold the process).
        new Thread(() => watch.Watch(descriptor)) { IsBackground = true, Name = "pyralog-stdout-watch" }.Start();
        return watch;
    }

    private void Watch(int descriptor)
    {
        try
        {
            DescriptorPoll.WaitReaderGone(descriptor);
        }
        catch (IOException)
        {
            return; // not watchable: the command finds out at its next write, as it would without the watch
        }

        _gone.Cancel();
    }
}
