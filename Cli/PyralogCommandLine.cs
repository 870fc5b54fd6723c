using System.CommandLine;
using Pyralog.Cli.Commands;

namespace Pyralog.Cli;

/// <summary>The <c>pyralog</c> command tree, writing to the given streams so tests can run it in-process.</summary>
public static class PyralogCommandLine
{
    public static RootCommand Create(TextWriter output, TextWriter error)
    {
        var connection = new ConnectionOptions();
        var root = new RootCommand("pyralog: a distributed log on Orleans");
        connection.AddTo(root);
        root.Subcommands.Add(IdsCommand.Create(connection, output, error));
        return root;
    }

    /// <summary>
    /// Runs a command. Bad input is one line on <paramref name="error"/> and exit code 2, never usage text on
    /// <paramref name="output"/>: a script's <c>ID=$(pyralog ids next)</c> must not capture help.
    /// </summary>
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var result = Create(output, error).Parse(args);
        if (result.Errors is [var first, ..])
        {
            error.WriteLine($"pyralog: {first.Message}");
            return Task.FromResult(ExitCodes.BadInput);
        }

        return result.InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
    }
}
