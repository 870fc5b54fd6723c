using System.Buffers;

namespace Pyralog.Cli.Input;

/// <summary>
/// Lines of bytes from a stream, split at <c>\n</c> only: the bytes are kept as they are (no decoding), a <c>\r</c>
/// before the <c>\n</c> is dropped (CRLF files), an empty line is an empty line, and a last line without a newline is a
/// line too. Empty input has no lines. A line longer than <paramref name="maxLineBytes"/> throws
/// <see cref="LineTooLongException"/> once that much of it is read, without the rest being read or held.
/// </summary>
internal sealed class LineReader(Stream input, int maxLineBytes = int.MaxValue)
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private bool _ended;

    public async ValueTask<byte[]?> ReadLineAsync(CancellationToken cancellationToken)
    {
        ArrayBufferWriter<byte>? partial = null;
        while (true)
        {
            var available = _buffer.AsSpan(_start, _end - _start);
            var newline = available.IndexOf((byte)'\n');
            if (newline >= 0)
            {
                ReadOnlySpan<byte> line = available[..newline];
                _start += newline + 1;
                if (partial is not null)
                {
                    partial.Write(line);
                    line = partial.WrittenSpan;
                }

                return Checked(line is [.., (byte)'\r'] ? line[..^1] : line).ToArray();
            }

            if (available.Length > 0)
            {
                partial ??= new ArrayBufferWriter<byte>();
                partial.Write(available);

                // One byte over the limit may still be the '\r' of a "\r\n".
                if (partial.WrittenCount - 1 > maxLineBytes)
                {
                    throw new LineTooLongException(maxLineBytes);
                }
            }

            _start = _end = 0;
            if (_ended)
            {
                return partial is null ? null : Checked(partial.WrittenSpan).ToArray();
            }

            var read = await input.ReadAsync(_buffer, cancellationToken);
            if (read == 0)
            {
                _ended = true;
            }

            _end = read;
        }
    }

    private ReadOnlySpan<byte> Checked(ReadOnlySpan<byte> line) =>
        line.Length > maxLineBytes ? throw new LineTooLongException(maxLineBytes) : line;
}
