namespace Pyralog.Cli.Tests;

/// <summary>Stdin that gives <c>data</c>, then waits for more as a terminal does, until the read is cancelled.</summary>
internal sealed class WaitingStream(byte[] data) : MemoryStream(data)
{
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await base.ReadAsync(buffer, cancellationToken);
        if (read > 0)
        {
            return read;
        }

        await Task.Delay(Timeout.Infinite, cancellationToken);
        return 0;
    }
}
