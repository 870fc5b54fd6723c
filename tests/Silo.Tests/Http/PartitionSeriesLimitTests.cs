using OpenTelemetry;
using OpenTelemetry.Metrics;
using Pyralog.Grains.Diagnostics;
using Pyralog.Silo.Http;

namespace Pyralog.Silo.Tests.Http;

public sealed class PartitionSeriesLimitTests
{
    [Fact]
    public void Each_log_keeps_a_series_of_its_own_past_OpenTelemetrys_default_limit()
    {
        // Log ids no other test uses: the instruments are static and other tests record into them too.
        const long firstLog = 1L << 42;
        const int logs = 2_500; // past OpenTelemetry's default of 2,000 series per instrument
        var exporter = new LogSeriesExporter(ReplicationInstruments.AppendedRecords.Name);
        using (var provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(ReplicationInstruments.MeterName)
            .AddPartitionSeriesLimit(3_000)
            .AddReader(new BaseExportingMetricReader(exporter))
            .Build())
        {
            for (var i = 0; i < logs; i++)
            {
                ReplicationInstruments.AppendedRecords.Add(1, ReplicationInstruments.PartitionTags((ulong)(firstLog + i), 0));
            }

            Assert.True(provider.ForceFlush());
        }

        Assert.False(exporter.Overflowed, "series were folded into the overflow series");
        var ours = exporter.LogIds.Where(id => id >= firstLog && id < firstLog + logs).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, logs).Select(i => firstLog + i), ours);
    }
}
