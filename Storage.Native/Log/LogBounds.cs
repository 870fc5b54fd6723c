namespace Pyralog.Storage.Native.Log;

/// <summary>The readable range of one log: records in [<see cref="First"/>, <see cref="Next"/>).</summary>
/// <param name="First">Lowest readable offset (everything below was truncated or retired).</param>
/// <param name="Next">One past the last record: the offset the next append must use.</param>
public readonly record struct LogBounds(ulong First, ulong Next)
{
    public bool IsEmpty => First == Next;

    public ulong Count => Next - First;
}
