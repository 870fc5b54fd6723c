using System.Globalization;

namespace Pyralog.Storage.Native.Tests;

public sealed class PyramidOptionsTests
{
    [Fact]
    public void The_defaults_are_valid() => new PyramidOptions().Validate();

    /// <summary>Each range refuses the value one step outside it and accepts its bound (TimeSpans step by one tick).</summary>
    [Theory]
    [InlineData("MemtableBytes", "65536", "65535")]
    [InlineData("MemtableBytes", "1073741824", "1073741825")]
    [InlineData("MaxImmutableMemtables", "1", "0")]
    [InlineData("BlockCacheBytes", "0", "-1")]
    [InlineData("MaxMappedSegments", "0", "-1")]
    [InlineData("BlockBytes", "512", "511")]
    [InlineData("BlockBytes", "1048576", "1048577")]
    [InlineData("TargetSegmentBytes", "65536", "65535")]
    [InlineData("SeparateLogSegmentBytes", "4096", "4095")]
    [InlineData("SmallLogSegmentBytes", "0", "-1")]
    [InlineData("L0CompactionTrigger", "1", "0")]
    [InlineData("L1TargetBytes", "65536", "65535")]
    [InlineData("LevelSizeMultiplier", "2", "1")]
    [InlineData("CompactionBytesPerSecond", "0", "-1")]
    [InlineData("BloomBitsPerKey", "1", "0")]
    [InlineData("BloomBitsPerKey", "32", "33")]
    [InlineData("SyncInterval", "00:00:00.0000001", "00:00:00")]
    [InlineData("RetentionMarkerBytes", "4096", "4095")]
    [InlineData("RetentionMarkerInterval", "00:00:00.0000001", "00:00:00")]
    [InlineData("RetentionCheckInterval", "00:00:00.0000001", "00:00:00")]
    public void A_range_refuses_one_step_outside_and_accepts_its_bound(string setting, string bound, string outside)
    {
        With(setting, bound).Validate();
        var e = Assert.Throws<ArgumentException>(With(setting, outside).Validate);
        Assert.Equal(setting, e.ParamName);
        Assert.StartsWith($"PyramidOptions.{setting} must be ", e.Message, StringComparison.Ordinal);
        Assert.Contains($"(was {outside})", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_wrong_setting_is_named_with_its_value_and_range()
    {
        var e = Assert.Throws<ArgumentException>(new PyramidOptions { MemtableBytes = 10, BloomBitsPerKey = 40, SyncInterval = TimeSpan.Zero }.Validate);
        Assert.Equal("SyncInterval", e.ParamName);
        Assert.Equal(
            "PyramidOptions.SyncInterval must be more than 00:00:00 (was 00:00:00). " +
            "PyramidOptions.MemtableBytes must be between 65536 and 1073741824 (was 10). " +
            "PyramidOptions.BloomBitsPerKey must be between 1 and 32 (was 40). (Parameter 'SyncInterval')",
            e.Message);
    }

    private static PyramidOptions With(string setting, string value)
    {
        var options = new PyramidOptions();
        var property = typeof(PyramidOptions).GetProperty(setting)!;
        property.SetValue(options, property.PropertyType == typeof(TimeSpan)
            ? TimeSpan.Parse(value, CultureInfo.InvariantCulture)
            : Convert.ChangeType(value, property.PropertyType, CultureInfo.InvariantCulture));
        return options;
    }
}
