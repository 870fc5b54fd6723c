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

    // A failed writeback not yet reported: the kernel reports it to one waiter per descriptor, whichever waits first.
    private bool _unreportedFailure;

    /// <summary>The writeback of the bytes written so far fails: the next call that waits for writeback (a writeback
    /// with a range to wait for, or a sync) throws, once; the calls after it succeed.</summary>
    public void FailWriteback() => _unreportedFailure = true;

    public override void WriteBack(long waitOffset, long offset, long length)
    {
        Calls.Add($"writeback {waitOffset} {offset} {length}");
        if (offset > waitOffset)
        {
            ReportFailure("sync_file_range");
        }
    }

    public override void SyncData()
    {
        Calls.Add("sync");
        ReportFailure("fdatasync");
    }

    private void ReportFailure(string call)
    {
        if (_unreportedFailure)
        {
            _unreportedFailure = false;
            throw new IOException($"{call} failed on '{Path}' (errno 5, injected)");
        }
    }

    public override void Dispose()
    {
    }
}
