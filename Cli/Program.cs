using Pyralog.Cli;

var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false };
try
{
    return await PyralogCommandLine.RunAsync(args, output, Console.Error);
}
finally
{
    await output.FlushAsync();
}
