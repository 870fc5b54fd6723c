using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Grains.Interfaces.Tests.Obelisk;

public sealed class ScarabIdTests
{
    [Property(MaxTest = 2000)]
    public bool Parts_round_trip_through_the_value(ulong raw, ushort obelisk, ushort sequence)
    {
        var ms = raw & ScarabId.MaxMilliseconds;
        var o = obelisk & ScarabId.MaxObeliskId;
        var s = sequence & ScarabId.MaxSequence;
        var id = ScarabId.Create(ms, o, s);
        return id.Milliseconds == ms && id.ObeliskId == o && id.Sequence == s
            && ScarabId.Create(id.Milliseconds, id.ObeliskId, id.Sequence) == id;
    }

    [Property(MaxTest = 2000)]
    public bool Every_value_decodes_and_encodes_to_itself(ulong value)
    {
        var id = new ScarabId(value);
        return ScarabId.Create(id.Milliseconds, id.ObeliskId, id.Sequence).Value == value;
    }

    [Property(MaxTest = 2000)]
    public bool Order_is_time_then_obelisk_then_sequence(ulong a, ulong b)
    {
        var x = new ScarabId(a);
        var y = new ScarabId(b);
        var byParts = (x.Milliseconds, x.ObeliskId, x.Sequence).CompareTo((y.Milliseconds, y.ObeliskId, y.Sequence));
        return Math.Sign(x.CompareTo(y)) == Math.Sign(byParts) && (x < y) == (byParts < 0);
    }

    [Property(MaxTest = 2000)]
    public bool Decimal_text_round_trips(ulong value)
    {
        var id = new ScarabId(value);
        return ScarabId.Parse(id.ToString()) == id;
    }

    [Fact]
    public void Values_above_two_to_the_63_stay_positive_and_ordered()
    {
        var late = ScarabId.Create(ScarabId.MaxMilliseconds, ScarabId.MaxObeliskId, ScarabId.MaxSequence);
        var early = ScarabId.Create((1UL << 40) - 1, 0, 0);
        Assert.Equal(ulong.MaxValue, late.Value);
        Assert.True(late > early);
        Assert.Equal(ScarabId.MaxTimestamp, late.Timestamp);
        Assert.Equal(new DateTimeOffset(2094, 9, 7, 15, 47, 35, 551, TimeSpan.Zero), ScarabId.MaxTimestamp);
    }

    [Fact]
    public void Timestamp_counts_from_the_pyralog_epoch()
    {
        var id = ScarabId.Create(1_000, 3, 7);
        Assert.Equal(new DateTimeOffset(2025, 1, 1, 0, 0, 1, TimeSpan.Zero), id.Timestamp);
        Assert.Equal(ScarabId.EpochUnixMilliseconds, ScarabId.Epoch.ToUnixTimeMilliseconds());
        Assert.Equal("2025-01-01T00:00:01.000Z obelisk=3 seq=7", id.ToReadableString());
    }

    [Property(MaxTest = 1000)]
    public bool Next_in_obelisk_rolls_the_sequence_into_the_next_millisecond(uint ms, ushort obelisk, ushort sequence)
    {
        var id = ScarabId.Create(ms, obelisk & ScarabId.MaxObeliskId, sequence & ScarabId.MaxSequence);
        var next = id.NextInObelisk();
        return next > id && next.ObeliskId == id.ObeliskId && (id.Sequence == ScarabId.MaxSequence
            ? next.Milliseconds == id.Milliseconds + 1 && next.Sequence == 0
            : next.Milliseconds == id.Milliseconds && next.Sequence == id.Sequence + 1);
    }

    [Property(MaxTest = 300)]
    public Property Block_index_walks_the_obelisk_sequence()
    {
        var gen =
            from ms in Gen.Choose(0, int.MaxValue)
            from obelisk in Gen.Choose(0, ScarabId.MaxObeliskId)
            from sequence in Gen.Choose(0, ScarabId.MaxSequence)
            from count in Gen.Choose(1, 20_000)
            select (ms, obelisk, sequence, count);
        return Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var block = new ScarabIdBlock(ScarabId.Create((ulong)t.ms, t.obelisk, t.sequence), t.count);
            var expected = block.First;
            for (var i = 0; i < block.Count; i++)
            {
                if (block[i] != expected)
                {
                    return false;
                }

                expected = expected.NextInObelisk();
            }

            return block.Last == block[block.Count - 1];
        });
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1024)]
    [InlineData(int.MaxValue)]
    public void An_obelisk_id_outside_0_to_1023_is_refused_by_name(int obeliskId)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ScarabId.ValidateObeliskId(obeliskId));
        Assert.Equal("obeliskId", e.ParamName);
        Assert.Contains("0..1023", e.Message);
    }

    [Fact]
    public void Parts_out_of_range_are_refused_by_name()
    {
        Assert.Equal("milliseconds", Assert.Throws<ArgumentOutOfRangeException>(() => ScarabId.Create(ScarabId.MaxMilliseconds + 1, 0, 0)).ParamName);
        Assert.Equal("sequence", Assert.Throws<ArgumentOutOfRangeException>(() => ScarabId.Create(0, 0, 8192)).ParamName);
        Assert.Equal("sequence", Assert.Throws<ArgumentOutOfRangeException>(() => ScarabId.Create(0, 0, -1)).ParamName);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(ScarabIdBlock.MaxCount + 1)]
    public void A_block_count_outside_its_range_is_refused(int count)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ScarabIdBlock(new ScarabId(0), count));
        Assert.Contains("1..65536", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("18446744073709551616")]
    [InlineData(" 12")]
    public void Text_that_is_not_an_id_is_refused(string text)
    {
        Assert.False(ScarabId.TryParse(text, null, out _));
        var e = Assert.Throws<FormatException>(() => ScarabId.Parse(text));
        Assert.Contains("not a Scarab ID", e.Message);
    }
}
