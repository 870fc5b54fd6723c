namespace Pyralog.Cli.Tests;

/// <summary>A stream that returns at most <c>chunk</c> bytes per read, as a pipe does.</summary>
internal sealed class ChunkedStream(byte[] data, int chunk) : MemoryStream(data)
{
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        base.ReadAsync(buffer[..Math.Min(chunk, buffer.Length)], cancellationToken);
}
