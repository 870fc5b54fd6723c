using System.Text;
using Pyralog.Client.Logs;

namespace Pyralog.Client.Tests.Logs;

public sealed class PartitionerTests
{
    /// <summary>
    /// Pinned: the partition of a key is part of the contract (records of one key stay in one partition across client
    /// versions). The expected values were computed with an independent XxHash64 implementation.
    /// </summary>
    [Theory]
    [InlineData("", 1, 0)]
    [InlineData("", 8, 1)]
    [InlineData("", 12, 9)]
    [InlineData("a", 3, 2)]
    [InlineData("a", 12, 11)]
    [InlineData("a", 1000, 955)]
    [InlineData("order-42", 8, 6)]
    [InlineData("order-42", 1000, 70)]
    [InlineData("order-42", 65536, 20430)]
    [InlineData("customer/1234", 12, 11)]
    [InlineData("customer/1234", 1000, 859)]
    [InlineData("customer/1234", 65536, 1251)]
    public void A_key_maps_to_its_pinned_partition(string key, int partitions, int expected) =>
        Assert.Equal(expected, Partitioner.ForKey(Encoding.UTF8.GetBytes(key), partitions));

    [Fact]
    public void A_long_key_maps_to_its_pinned_partition()
    {
        var key = new byte[40];
        for (var i = 0; i < key.Length; i++)
        {
            key[i] = (byte)i;
        }

        Assert.Equal(761, Partitioner.ForKey(key, 1000)); // 40 bytes: XxHash64's 32-byte stripes and its tail
    }

    [Fact]
    public void A_partition_count_below_one_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Partitioner.ForKey("k"u8, 0));
}
