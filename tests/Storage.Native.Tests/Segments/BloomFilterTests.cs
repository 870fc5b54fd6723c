using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native.Tests.Segments;

/// <summary>The bloom filter's remainder without a division picks the bits <c>%</c> picks, so filters written before read the same.</summary>
public class BloomFilterTests
{
    [Fact]
    public void The_remainder_by_multiplication_equals_the_remainder_by_division()
    {
        uint[] divisors = [1, 2, 3, 7, 64, 80, 4_096, 1_000_003, 1u << 31, (1u << 31) + 1, uint.MaxValue - 1, uint.MaxValue];
        uint[] edges = [0, 1, 2, 63, 64, 65, 1u << 31, uint.MaxValue - 1, uint.MaxValue];
        var random = new Random(TestSeed.Of(9));
        foreach (var divisor in divisors.Concat(Enumerable.Range(0, 200).Select(_ => (uint)random.NextInt64(1, 1L << 32))))
        {
            var multiplier = BloomFilter.ModMultiplier(divisor);
            foreach (var value in edges.Concat(Enumerable.Range(0, 500).Select(_ => (uint)random.NextInt64(0, 1L << 32))))
            {
                Assert.True(value % divisor == BloomFilter.Mod(value, divisor, multiplier), $"{value} % {divisor}");
            }
        }
    }

    [Fact]
    public void Every_key_built_into_a_filter_passes_it_and_most_others_do_not()
    {
        var keys = Enumerable.Range(0, 10_000).Select(i => BitConverter.GetBytes((long)i)).ToArray();
        var hashes = keys.Select(k => BloomFilter.Hash(k)).ToArray();
        var filter = new byte[BloomFilter.EncodedBytes(keys.Length, 10)];
        BloomFilter.Build(hashes, 10, filter);
        Assert.True(BloomFilter.TryReadHeader(filter, out var hashCount, out var bitCount));
        var bits = filter.AsSpan(BloomFilter.HeaderBytes);
        var multiplier = BloomFilter.ModMultiplier(bitCount);
        foreach (var hash in hashes)
        {
            Assert.True(BloomFilter.MayContain(bits, hashCount, bitCount, multiplier, hash));
        }

        var falsePositives = 0;
        for (long i = 1_000_000; i < 1_010_000; i++)
        {
            falsePositives += BloomFilter.MayContain(bits, hashCount, bitCount, multiplier, BloomFilter.Hash(BitConverter.GetBytes(i))) ? 1 : 0;
        }

        Assert.InRange(falsePositives, 0, 200); // 10 bits a key: about 1 % expected
    }
}
