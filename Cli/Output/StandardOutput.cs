using System.Runtime.InteropServices;

namespace Pyralog.Cli.Output;

/// <summary>
/// Stdout (file descriptor 1) written with write(2), so that a reader that went away is noticed: .NET's console stream
/// pretends a write that failed with EPIPE succeeded (the runtime ignores SIGPIPE), and a <c>consume --follow | head</c>
/// would never end. A write after the reader went away throws <see cref="OutputClosedException"/>; any other failure
/// (a full disk) an <see cref="IOException"/> naming it. Works the same for a terminal, a file and a pipe.
/// </summary>
internal sealed partial class StandardOutput : Stream
{
    private const int Descriptor = 1;
    private const int Interrupted = 4; // EINTR
    private const int BrokenPipe = 32; // EPIPE
    private static readonly int WouldBlock = OperatingSystem.IsLinux() ? 11 : 35; // EAGAIN: 11 on Linux, 35 on macOS and the BSDs

    private StandardOutput()
    {
    }

    /// <summary>Stdout: this stream where write(2) is, the console's elsewhere (Windows).</summary>
    public static Stream Open() => OperatingSystem.IsWindows() ? Console.OpenStandardOutput() : new StandardOutput();

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override unsafe void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            nint written;
            fixed (byte* bytes = buffer)
            {
                written = write(Descriptor, bytes, (nuint)buffer.Length);
            }

            if (written >= 0)
            {
                buffer = buffer[(int)written..];
                continue;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Interrupted)
            {
                continue;
            }

            if (errno == WouldBlock)
            {
                // Stdout shared with a process that made it non-blocking: wait until it takes more, as the console stream does.
                DescriptorPoll.WaitWritable(Descriptor);
                continue;
            }

            throw errno == BrokenPipe
                ? new OutputClosedException()
                : new IOException($"cannot write to stdout: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Synchronous, as a console write is: a reader that is slow holds the writer back.</summary>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        try
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buffer, nuint count);
}
