using Pyralog.Cli;
using Pyralog.Cli.Logs;

var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false };
try
{
    return await PyralogCommandLine.RunAsync(args, Console.OpenStandardInput(), output, Console.Error, ClientLogSession.ConnectAsync, TimeProvider.System);
}
finally
{
    await output.FlushAsync();
}
