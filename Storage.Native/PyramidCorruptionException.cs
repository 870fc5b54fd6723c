namespace Pyralog.Storage.Native;

/// <summary>
/// Data on disk failed its checksum or structural checks. Carries the file and byte position so an
/// operator can find the damage; the engine never returns such data to a caller.
/// </summary>
public sealed class PyramidCorruptionException : IOException
{
    public PyramidCorruptionException(string filePath, long position, string detail)
        : base($"corruption in '{filePath}' at byte {position}: {detail}")
    {
        FilePath = filePath;
        Position = position;
    }

    public string FilePath { get; }

    public long Position { get; }
}
