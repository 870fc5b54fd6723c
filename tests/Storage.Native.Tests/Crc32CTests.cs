using System.Text;
using Pyralog.Storage.Native.Hashing;

namespace Pyralog.Storage.Native.Tests;

public class Crc32CTests
{
    [Fact]
    public void Matches_the_published_check_value()
    {
        // RFC 3720 / iSCSI check value for "123456789".
        Assert.Equal(0xE3069283u, Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0u, Crc32C.Compute([]));
    }

    [Fact]
    public void Hardware_and_software_paths_agree_and_append_composes()
    {
        var random = new Random(42);
        for (var length = 0; length < 300; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);
            var whole = Crc32C.Compute(data);
            Assert.Equal(whole, ~Crc32C.Software(~0u, data));
            var split = length / 3;
            Assert.Equal(whole, Crc32C.Append(Crc32C.Compute(data.AsSpan(0, split)), data.AsSpan(split)));
        }
    }
}
