using Pyralog.Storage.Native.Devices;

namespace Pyralog.Storage.Native.Tests.Devices;

/// <summary>A file in memory that records each write and writeback call, in order, for tests of what calls a writer makes.</summary>
internal sealed class RecordingDeviceFile() : DeviceFile("recording")
{
    private readonly MemoryStream _bytes = new();

    /// <summary>"write OFFSET LENGTH" and "writeback WAIT_OFFSET OFFSET LENGTH", in call order.</summary>
    public List<string> Calls { get; } = [];

    public byte[] Bytes => _bytes.ToArray();

    public override long Length => _bytes.Length;

    public override void Write(ReadOnlySpan<byte> data, long offset)
    {
        Calls.Add($"write {offset} {data.Length}");
        _bytes.Position = offset;
        _bytes.Write(data);
    }

    public override void Write(IReadOnlyList<ReadOnlyMemory<byte>> buffers, long offset)
    {
        foreach (var buffer in buffers)
        {
            Write(buffer.Span, offset);
            offset += buffer.Length;
        }
    }

    public override void SetLength(long length) => _bytes.SetLength(length);

    public override void DropCachedPages(long offset, long length)
    {
    }

    public override void WriteBack(long waitOffset, long offset, long length) => Calls.Add($"writeback {waitOffset} {offset} {length}");

    public override void SyncData() => Calls.Add("sync");

    public override void Dispose()
    {
    }
}
