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

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(100)]
    public async Task Lines_up_to_the_limit_are_read_and_a_carriage_return_before_the_newline_does_not_count(int chunk)
    {
        var reader = new LineReader(new ChunkedStream("abc\nabc\r\nab\n\nabc"u8.ToArray(), chunk), maxLineBytes: 3);
        var lines = new List<string>();
        while (await reader.ReadLineAsync(CancellationToken.None) is { } line)
        {
            lines.Add(System.Text.Encoding.UTF8.GetString(line));
        }

        Assert.Equal(["abc", "abc", "ab", "", "abc"], lines);
    }

    [Theory]
    [InlineData("abcd\n", 1)]
    [InlineData("abcd\n", 100)]
    [InlineData("abc\rd\n", 100)]
    [InlineData("abcd", 1)]
    [InlineData("abcd", 100)]
    [InlineData("ok\nabcde", 2)]
    public async Task A_line_over_the_limit_throws_naming_the_limit(string input, int chunk)
    {
        var reader = new LineReader(new ChunkedStream(System.Text.Encoding.UTF8.GetBytes(input), chunk), maxLineBytes: 3);
        if (input.StartsWith("ok\n", StringComparison.Ordinal))
        {
            Assert.Equal("ok"u8.ToArray(), await reader.ReadLineAsync(CancellationToken.None));
        }

        var e = await Assert.ThrowsAsync<LineTooLongException>(() => reader.ReadLineAsync(CancellationToken.None).AsTask());
        Assert.Equal((3, "a line is longer than 3 bytes"), (e.MaxBytes, e.Message));
    }

    [Fact]
    public async Task Input_without_newlines_is_not_read_whole()
    {
        // A disk image piped in: the reader stops once the line is over the limit, after two reads of its 64 KiB buffer.
        var image = new byte[16 << 20];
        Array.Fill(image, (byte)'x');
        using var input = new MemoryStream(image);
        var reader = new LineReader(input, maxLineBytes: 100_000);
        await Assert.ThrowsAsync<LineTooLongException>(() => reader.ReadLineAsync(CancellationToken.None).AsTask());
        Assert.Equal(128 * 1024, input.Position);
    }
}
