using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Interfaces.Tests.Logs;

public sealed class ReplicaGrainKeyTests
{
    [Theory]
    [InlineData("7/0/0", 7UL, 0, 0)]
    [InlineData("0/0/6", 0UL, 0, 6)]
    [InlineData("1099511627775/65535/3", ReplicaGrainKey.MaxLog, 65_535, 3)]
    public void A_key_round_trips(string text, ulong log, int partition, int replica)
    {
        var key = ReplicaGrainKey.Parse(text);
        Assert.Equal(new ReplicaGrainKey(log, partition, replica), key);
        Assert.Equal(text, ReplicaGrainKey.Format(key));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("7/0")]
    [InlineData("7/0/0/0")]
    [InlineData("7/0/7")]
    [InlineData("7/-1/0")]
    [InlineData("-7/0/0")]
    [InlineData("+7/0/0")]
    [InlineData("07/0/0")]
    [InlineData(" 7/0/0")]
    [InlineData("7//0")]
    [InlineData("a/0/0")]
    [InlineData("18446744073709551616/0/0")]
    [InlineData("1099511627776/0/0")] // log ids stop at 2^40 - 1 (the silo store packs log, partition, replica in 64 bits)
    [InlineData("7/65536/0")]
    public void Anything_else_is_rejected(string? text)
    {
        Assert.False(ReplicaGrainKey.TryParse(text, out _));
        if (text is not null)
        {
            Assert.Throws<FormatException>(() => ReplicaGrainKey.Parse(text));
        }
    }

    [Theory]
    [InlineData(-1, 0)]
    [InlineData(0, -1)]
    [InlineData(0, 7)]
    public void A_key_that_cannot_be_parsed_cannot_be_formatted(int partition, int replica) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ReplicaGrainKey.Format(new ReplicaGrainKey(1, partition, replica)));
}
