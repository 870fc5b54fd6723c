using System.Buffers;

namespace Pyralog.Storage.Native.Devices;

/// <summary>Writes a <see cref="DeviceFile"/> front to back through a pooled buffer, so many small writes (segment
/// blocks) become few large ones, as a buffered FileStream would. With a writeback step, the bytes go to the disk as
/// they are written, a step at a time (each step waiting for the one before), instead of all at the final sync.</summary>
internal sealed class BufferedFileWriter : IDisposable
{
    private readonly DeviceFile _file;
    private readonly int _writebackBytes;
    private byte[] _buffer;
    // Invariant: the file holds exactly [0, _flushed); _buffer[.._buffered] follows it.
    private long _flushed;
    private int _buffered;

    // Invariant (with a writeback step): [_writebackWaitFrom, _writebackFrom) is the last range whose writeback was
    // started and not yet waited for; [_writebackFrom, _flushed) is written but its writeback not started.
    private long _writebackWaitFrom;
    private long _writebackFrom;
    // The first writeback failure a step's wait reported: the kernel tells only that one waiter, so the file's sync
    // would succeed over the lost pages; FlushToDisk throws it instead.
    private IOException? _writebackFailure;

    /// <param name="writebackBytes">0: the bytes reach the disk when the file is synced (or when the kernel decides);
    /// otherwise every time this many bytes were handed to the file, their writeback starts, after the previous step's
    /// finished (see <see cref="DeviceFile.WriteBack"/>).</param>
    public BufferedFileWriter(DeviceFile file, int bufferBytes, int writebackBytes = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(writebackBytes);
        _file = file;
        _writebackBytes = writebackBytes;
        _buffer = ArrayPool<byte>.Shared.Rent(bufferBytes);
    }

    public DeviceFile File => _file;

    /// <summary>Bytes written so far, buffered or not.</summary>
    public long Position => _flushed + _buffered;

    public void Write(ReadOnlySpan<byte> data)
    {
        if (_buffered + data.Length > _buffer.Length)
        {
            Flush();
            if (data.Length > _buffer.Length)
            {
                _file.Write(data, _flushed);
                _flushed += data.Length;
                WriteBackIfDue();
                return;
            }
        }

        data.CopyTo(_buffer.AsSpan(_buffered));
        _buffered += data.Length;
    }

    /// <summary>Hands the buffered bytes to the file (not durable yet).</summary>
    public void Flush()
    {
        if (_buffered == 0)
        {
            return;
        }

        _file.Write(_buffer.AsSpan(0, _buffered), _flushed);
        _flushed += _buffered;
        _buffered = 0;
        WriteBackIfDue();
    }

    private void WriteBackIfDue()
    {
        if (_writebackBytes > 0 && _flushed - _writebackFrom >= _writebackBytes)
        {
            try
            {
                _file.WriteBack(_writebackWaitFrom, _writebackFrom, _flushed - _writebackFrom);
            }
            catch (IOException e)
            {
                _writebackFailure ??= e;
            }

            _writebackWaitFrom = _writebackFrom;
            _writebackFrom = _flushed;
        }
    }

    /// <summary>Flushes and syncs: everything written is durable on return. Throws an <see cref="IOException"/> if a
    /// writeback step failed (the sync could not tell: see <see cref="DeviceFile.WriteBack"/>), on every call.</summary>
    public void FlushToDisk()
    {
        Flush();
        if (_writebackFailure is { } failure)
        {
            throw new IOException($"'{_file.Path}' cannot be made durable: a writeback of it failed ({failure.Message})", failure);
        }

        _file.SyncData();
    }

    /// <summary>Flushes and hands the buffer back to the pool: for a file complete but not yet synced, so many of them
    /// waiting for their sync hold no buffers. No write may follow.</summary>
    public void FlushAndReleaseBuffer()
    {
        Flush();
        ReturnBuffer();
    }

    public void Dispose()
    {
        _file.Dispose();
        ReturnBuffer();
    }

    private void ReturnBuffer()
    {
        var buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
