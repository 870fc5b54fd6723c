using System.IO.Pipes;
using Pyralog.Cli.Output;

namespace Pyralog.Cli.Tests;

public sealed class OutputReaderWatchTests
{
    [Fact]
    public void A_pipe_whose_reader_closed_cancels_the_watch()
    {
        using var pipe = new AnonymousPipeServerStream(PipeDirection.Out);
        var reader = new AnonymousPipeClientStream(PipeDirection.In, pipe.ClientSafePipeHandle);
        var watch = OutputReaderWatch.Start((int)pipe.SafePipeHandle.DangerousGetHandle());
        pipe.Write("still read\n"u8);
        Assert.False(watch.Gone.IsCancellationRequested);

        // Every read end closed (the client stream and the server's copy of its handle), as when `head` exits.
        reader.Dispose();
        pipe.DisposeLocalCopyOfClientHandle();
        Assert.True(watch.Gone.WaitHandle.WaitOne(TimeSpan.FromSeconds(30)), "the watch did not notice the reader go");
    }
}
