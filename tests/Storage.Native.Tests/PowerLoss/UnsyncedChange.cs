namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>A write or length change not yet covered by an fdatasync of its file: enough to undo it (the bytes it
/// replaced and the length before it) and to redo a prefix of it (a torn write).</summary>
/// <param name="Offset">Where the write began, or the new length of a length change.</param>
/// <param name="Written">The bytes written (empty for a length change).</param>
/// <param name="Replaced">The bytes the write overwrote, or a shrink cut off, from <paramref name="Offset"/>.</param>
/// <param name="LengthBefore">The file's length before the change.</param>
/// <param name="IsLengthChange">Set-length rather than a write.</param>
internal sealed record UnsyncedChange(long Offset, byte[] Written, byte[] Replaced, long LengthBefore, bool IsLengthChange);
