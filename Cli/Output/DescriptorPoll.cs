using System.Runtime.InteropServices;

namespace Pyralog.Cli.Output;

/// <summary>poll(2) on one file descriptor: waiting until it takes more output, or until its reader went away.</summary>
internal static partial class DescriptorPoll
{
    private const int Interrupted = 4; // EINTR
    private const short Writable = 4; // POLLOUT
    private const short Error = 8; // POLLERR: a pipe's write end whose readers all closed
    private const short HangUp = 16; // POLLHUP: a terminal or socket that hung up
    private const short Invalid = 32; // POLLNVAL: the descriptor was closed

    /// <summary>Blocks until <paramref name="descriptor"/> takes more output (or reports an error the next write will name).</summary>
    public static unsafe void WaitWritable(int descriptor)
    {
        var request = new PollRequest { Descriptor = descriptor, Events = Writable };
        while (poll(&request, 1, -1) < 0 && Marshal.GetLastPInvokeError() == Interrupted)
        {
        }
    }

    /// <summary>
    /// Blocks until nothing can read what <paramref name="descriptor"/> is written (a pipe whose readers all closed, a
    /// terminal that hung up, a closed descriptor). Asks for no event, so only those wake it: on a regular file or
    /// <c>/dev/null</c> it waits for ever, as nothing ever stops reading them.
    /// </summary>
    public static unsafe void WaitReaderGone(int descriptor)
    {
        var request = new PollRequest { Descriptor = descriptor, Events = 0 };
        while (true)
        {
            request.Returned = 0;
            var ready = poll(&request, 1, -1);
            if (ready < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Interrupted)
                {
                    continue;
                }

                throw new IOException($"cannot watch file descriptor {descriptor}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
            }

            if ((request.Returned & (Error | HangUp | Invalid)) != 0)
            {
                return;
            }
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int poll(PollRequest* fds, nuint count, int timeout);

    /// <summary>struct pollfd.</summary>
    private struct PollRequest
    {
        public int Descriptor;
        public short Events;
        public short Returned;
    }
}
