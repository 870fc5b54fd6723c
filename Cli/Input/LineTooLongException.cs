namespace Pyralog.Cli.Input;

/// <summary>
/// A line of the input is longer than <see cref="MaxBytes"/>: <see cref="LineReader"/> stopped reading it there rather
/// than hold it whole (input without newlines, such as a disk image, would fill the memory).
/// </summary>
internal sealed class LineTooLongException(int maxBytes)
    : Exception($"a line is longer than {maxBytes} bytes")
{
    public int MaxBytes { get; } = maxBytes;
}
