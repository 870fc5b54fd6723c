using System.Text;
using Microsoft.Extensions.Time.Testing;

namespace Pyralog.Cli.Tests;

/// <summary>Runs the CLI in-process against a <see cref="FakeLogSession"/>, with stdin from a string and a clock that stands still.</summary>
internal static class CliRun
{
    public static async Task<(int Exit, string Out, string Err)> RunWithInput(FakeLogSession session, string stdin, params string[] args)
    {
        var output = new StringWriter();
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(stdin));
        var (exit, error) = await RunWith(session, input, output, args);
        return (exit, output.ToString().ReplaceLineEndings("\n"), error);
    }

    /// <summary>Runs with <paramref name="stdin"/> and <paramref name="stdout"/> as given; the exit code and stderr.</summary>
    public static async Task<(int Exit, string Err)> RunWith(FakeLogSession session, Stream stdin, TextWriter stdout, params string[] args)
    {
        var error = new StringWriter();
        var exit = await PyralogCommandLine.RunAsync(args, stdin, stdout, error, session.Factory, new FakeTimeProvider());
        return (exit, error.ToString().ReplaceLineEndings("\n"));
    }

    public static Task<(int Exit, string Out, string Err)> Run(FakeLogSession session, params string[] args) => RunWithInput(session, "", args);

    /// <summary>Exit <paramref name="exit"/>, nothing on stdout, exactly <paramref name="expected"/> as one line on stderr.</summary>
    public static async Task AssertFails(FakeLogSession session, int exit, string expected, params string[] args)
    {
        var result = await Run(session, args);
        Assert.Equal((exit, "", expected + "\n"), result);
    }
}
