using Pyralog.Storage.Native.Native;

namespace Pyralog.Storage.Native.Tests.Native;

/// <summary>Backing memory's pages ahead of its first writes: a hint that never changes what the memory holds.</summary>
public class PopulateForWriteTests
{
    [Fact]
    public void Populating_a_chunk_keeps_its_bytes_and_works_on_a_kernel_that_has_it()
    {
        var chunk = GC.AllocateUninitializedArray<byte>(1 << 20);
        new Random(7).NextBytes(chunk);
        var copy = chunk.ToArray();

        var populated = LibC.PopulateForWrite(chunk);

        Assert.Equal(copy, chunk);
        var kernelHasIt = OperatingSystem.IsLinux() && Environment.OSVersion.Version >= new Version(5, 14);
        Assert.Equal(kernelHasIt, populated);
    }

    [Fact]
    public void Memory_smaller_than_a_page_is_left_alone()
    {
        var small = new byte[100];
        Assert.False(LibC.PopulateForWrite(small.AsSpan(1, 50)));
        Assert.False(LibC.PopulateForWrite([]));
    }
}
