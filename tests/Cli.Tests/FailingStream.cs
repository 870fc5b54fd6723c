namespace Pyralog.Cli.Tests;

/// <summary>Stdin whose first read gives <c>data</c> and whose second throws <c>failure</c>, as reading a directory (EISDIR) does.</summary>
internal sealed class FailingStream(byte[] data, Exception failure) : MemoryStream(data)
{
    private int _reads;

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ++_reads == 2 ? ValueTask.FromException<int>(failure) : base.ReadAsync(buffer, cancellationToken);
}
