using System.Runtime.InteropServices;
using Pyralog.Cli;
using Pyralog.Cli.Logs;

// Ctrl+C and SIGTERM cancel the command's token (a second one ends the process at once). Handled here, first, because
// the Orleans client's host registers its own handlers, which keep the signal from System.CommandLine's.
using var interrupt = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);

var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false };
try
{
    return await PyralogCommandLine.RunAsync(
        args, Console.OpenStandardInput(), output, Console.Error, ClientLogSession.ConnectAsync, TimeProvider.System, interrupt.Token);
}
finally
{
    await output.FlushAsync();
}

void Interrupt(PosixSignalContext context)
{
    context.Cancel = !interrupt.IsCancellationRequested;
    interrupt.Cancel();
}
