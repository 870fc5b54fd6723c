namespace Pyralog.Cli.Logs;

/// <summary>Where an acknowledged record landed: <c>partition/epoch/offset</c>.</summary>
internal readonly record struct RecordAddress(int Partition, ulong Epoch, ulong Offset)
{
    public override string ToString() => $"{Partition}/{Epoch}/{Offset}";
}
