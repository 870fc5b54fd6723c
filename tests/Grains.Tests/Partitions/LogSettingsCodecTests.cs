using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Partitions;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>A log's settings survive the replica's record and the metadata group's create command, retention included.</summary>
public sealed class LogSettingsCodecTests
{
    public static TheoryData<LogSettings> Settings() =>
    [
        new LogSettings(),
        new LogSettings { Durability = LogDurability.OsCache, MaxRecordBytes = 4096, RetentionAge = TimeSpan.FromHours(36) },
        new LogSettings { RetentionBytes = 10L << 30 },
        new LogSettings { RetentionAge = TimeSpan.FromMilliseconds(1500), RetentionBytes = LogSettings.MinRetentionBytes },
    ];

    [Theory]
    [MemberData(nameof(Settings))]
    public void Settings_round_trip_through_the_replica_record_and_the_create_command(LogSettings settings)
    {
        Assert.Equal(settings, LogSettingsCodec.Decode(LogSettingsCodec.Encode(settings)));
        var command = MetadataCommand.Decode(MetadataCommand.Create("orders", 3, 3, settings).Encode());
        Assert.Equal(settings, command.Settings());
    }

    [Fact]
    public void A_record_written_before_retention_existed_has_none()
    {
        byte[] legacy = [(byte)LogDurability.OsCache, 0, 16, 0, 0];
        Assert.Equal(new LogSettings { Durability = LogDurability.OsCache, MaxRecordBytes = 4096 }, LogSettingsCodec.Decode(legacy));
        Assert.Throws<InvalidDataException>(() => LogSettingsCodec.Decode([1, 2, 3]));
    }
}
