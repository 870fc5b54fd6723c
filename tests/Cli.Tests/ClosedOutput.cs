using System.Text;
using Pyralog.Cli.Output;

namespace Pyralog.Cli.Tests;

/// <summary>Stdout that nothing reads any more (the reader of its pipe ended): every write fails as the CLI's stdout then does.</summary>
internal sealed class ClosedOutput : TextWriter
{
    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value) => throw new OutputClosedException();

    public override void Write(string? value) => throw new OutputClosedException();

    public override void WriteLine(string? value) => throw new OutputClosedException();
}
