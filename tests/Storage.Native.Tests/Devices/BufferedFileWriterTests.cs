using Pyralog.Storage.Native.Devices;

namespace Pyralog.Storage.Native.Tests.Devices;

/// <summary>
/// A writer with a writeback step sends the file to the disk a step at a time as it writes, each step waiting for the one
/// before (segments: see SegmentWriter.WritebackBytes); without one it leaves the bytes to the final sync. The bytes are
/// the same either way.
/// </summary>
public class BufferedFileWriterTests
{
    // Buffer and step sizes are powers of two: the pool hands out buffers of exactly those sizes.
    [Fact]
    public void Each_full_step_starts_its_writeback_after_waiting_for_the_step_before()
    {
        var file = new RecordingDeviceFile();
        var data = Data(10_240, seed: 1);
        using (var writer = new BufferedFileWriter(file, bufferBytes: 1024, writebackBytes: 2048))
        {
            for (var at = 0; at < data.Length; at += 512)
            {
                writer.Write(data.AsSpan(at, 512));
            }

            writer.FlushToDisk();
        }

        Assert.Equal(
            [
                "write 0 1024", "write 1024 1024", "writeback 0 0 2048",
                "write 2048 1024", "write 3072 1024", "writeback 0 2048 2048",
                "write 4096 1024", "write 5120 1024", "writeback 2048 4096 2048",
                "write 6144 1024", "write 7168 1024", "writeback 4096 6144 2048",
                "write 8192 1024", "write 9216 1024", "writeback 6144 8192 2048",
                "sync",
            ],
            file.Calls);
        Assert.Equal(data, file.Bytes);
    }

    [Fact]
    public void A_write_larger_than_the_buffer_goes_straight_to_the_file_and_still_starts_its_step()
    {
        var file = new RecordingDeviceFile();
        var data = Data(7_400, seed: 2);
        using (var writer = new BufferedFileWriter(file, bufferBytes: 1024, writebackBytes: 2048))
        {
            writer.Write(data.AsSpan(0, 300));
            writer.Write(data.AsSpan(300, 5000)); // flushes the 300 buffered bytes, then writes itself
            writer.Write(data.AsSpan(5300, 2100));
            writer.FlushToDisk();
        }

        Assert.Equal(
            ["write 0 300", "write 300 5000", "writeback 0 0 5300", "write 5300 2100", "writeback 0 5300 2100", "sync"],
            file.Calls);
        Assert.Equal(data, file.Bytes);
    }

    [Fact]
    public void Without_a_writeback_step_the_bytes_wait_for_the_sync()
    {
        var file = new RecordingDeviceFile();
        var data = Data(4_500, seed: 3);
        using (var writer = new BufferedFileWriter(file, bufferBytes: 1024))
        {
            writer.Write(data);
            writer.Write([]);
            writer.FlushToDisk();
        }

        Assert.DoesNotContain(file.Calls, c => c.StartsWith("writeback", StringComparison.Ordinal));
        Assert.Equal(["write 0 4500", "sync"], file.Calls);
        Assert.Equal(data, file.Bytes);
    }

    [Fact]
    public void A_writeback_failure_told_only_to_a_step_s_wait_fails_every_later_sync_of_the_writer()
    {
        var file = new RecordingDeviceFile();
        using var writer = new BufferedFileWriter(file, bufferBytes: 1024, writebackBytes: 2048);
        writer.Write(new byte[2048]);
        file.FailWriteback(); // of the step just started: the next step's wait is told, and only it
        writer.Write(new byte[2048]);
        writer.Write(new byte[100]);

        var first = Assert.Throws<IOException>(writer.FlushToDisk);
        Assert.Equal(
            "'recording' cannot be made durable: a writeback of it failed (sync_file_range failed on 'recording' (errno 5, injected))",
            first.Message);
        Assert.Equal("sync_file_range failed on 'recording' (errno 5, injected)", first.InnerException!.Message);
        Assert.Equal(first.Message, Assert.Throws<IOException>(writer.FlushToDisk).Message);
        Assert.Equal(["write 0 2048", "writeback 0 0 2048", "write 2048 2048", "writeback 0 2048 2048", "write 4096 100"], file.Calls);
        file.SyncData(); // what the writer's sync would have been told: nothing, the step's wait took the report
    }

    [Fact]
    public void A_negative_writeback_step_is_refused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new BufferedFileWriter(new RecordingDeviceFile(), 1024, writebackBytes: -1));
        Assert.Equal("writebackBytes", e.ParamName);
    }

    [Fact]
    public void A_real_file_written_back_in_steps_reads_back_exactly_after_its_sync()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "stepped");
        var data = Data((3 << 20) + 4321, seed: 4);
        using (var writer = new BufferedFileWriter(FileSystemDevice.Instance.Open(path, FileMode.CreateNew), 64 << 10, 256 << 10))
        {
            for (var at = 0; at < data.Length; at += 10_000)
            {
                writer.Write(data.AsSpan(at, Math.Min(10_000, data.Length - at)));
            }

            writer.FlushToDisk();
        }

        Assert.Equal(data, File.ReadAllBytes(path));
    }

    private static byte[] Data(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }
}
