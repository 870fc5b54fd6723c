using Pyralog.Cli.Input;

namespace Pyralog.Cli.Tests;

public sealed class LineReaderTests
{
    private static async Task<List<byte[]>> Lines(byte[] input, int chunk)
    {
        var reader = new LineReader(new ChunkedStream(input, chunk));
        var lines = new List<byte[]>();
        while (await reader.ReadLineAsync(CancellationToken.None) is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(100)]
    public async Task Bytes_are_kept_as_they_are_whatever_the_reads_return(int chunk)
    {
        byte[] input = [0xff, 0x00, (byte)'\n', (byte)'\r', (byte)'\n', 0xc3, 0xa9, (byte)'\r', 0x01, (byte)'\n', (byte)'z'];
        Assert.Equal([[0xff, 0x00], [], [0xc3, 0xa9, (byte)'\r', 0x01], [(byte)'z']], await Lines(input, chunk));
    }

    [Fact]
    public async Task Empty_input_has_no_lines() => Assert.Empty(await Lines([], 10));
}
