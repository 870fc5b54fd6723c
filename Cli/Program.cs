using System.Runtime.InteropServices;
using Pyralog.Cli;
using Pyralog.Cli.Logs;
using Pyralog.Cli.Output;

// Ctrl+C and SIGTERM cancel the command's token (a second one ends the process at once). Handled here, first, because
// the Orleans client's host registers its own handlers, which keep the signal from System.CommandLine's.
using var interrupt = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);

// Stdout that reports a reader gone away (`| head`); a buffer that holds any help text or table whole, so only the
// commands that print without bound write before the end, and they end quietly when nothing reads them any more.
var output = new StreamWriter(StandardOutput.Open(), bufferSize: 64 * 1024) { AutoFlush = false };
var outputReader = OutputReaderWatch.Start();
try
{
    return await PyralogCommandLine.RunAsync(
        args, Console.OpenStandardInput(), output, Console.Error, ClientLogSession.ConnectAsync, TimeProvider.System, interrupt.Token,
        outputGone: outputReader.Gone);
}
finally
{
    try
    {
        await output.FlushAsync();
    }
    catch (OutputClosedException)
    {
        // Nothing reads the rest: the exit code stays the command's.
    }
}

void Interrupt(PosixSignalContext context)
{
    context.Cancel = !interrupt.IsCancellationRequested;
    interrupt.Cancel();
}
