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

    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error) =>
        Create(output, error).Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
}
