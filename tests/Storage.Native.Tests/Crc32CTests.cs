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

    [Fact]
    public void The_three_lane_hardware_path_agrees_with_the_table_at_every_length_around_its_lanes()
    {
        // 768 and 24,576 bytes are one round of three short and of three long lanes; lengths and start offsets around
        // them, and random ones up to four long rounds, with a continued CRC as well as a fresh one.
        var random = new Random(TestSeed.Of(11));
        var buffer = new byte[(4 * 3 * 8192) + 64];
        random.NextBytes(buffer);
        var lengths = new List<int>();
        foreach (var round in new[] { 768, 2 * 768, 24_576, 2 * 24_576, 24_576 + 768 })
        {
            for (var delta = -9; delta <= 9; delta++)
            {
                lengths.Add(round + delta);
            }
        }

        lengths.AddRange(Enumerable.Range(0, 200).Select(_ => random.Next(0, buffer.Length - 64)));
        foreach (var length in lengths)
        {
            foreach (var start in new[] { 0, 1, 3, 7, 8, 13 })
            {
                var data = buffer.AsSpan(start, length);
                Assert.True(~Crc32C.Software(~0u, data) == Crc32C.Compute(data), $"length {length} at {start}");
                var seed = (uint)random.Next();
                Assert.True(~Crc32C.Software(~seed, data) == Crc32C.Append(seed, data), $"length {length} at {start}, continued");
            }
        }
    }
}
