using OpenTelemetry.Metrics;
using Pyralog.Grains.Diagnostics;
using Pyralog.Silo.Hosting;

namespace Pyralog.Silo.Http;

/// <summary>
/// How many series each of Pyralog's partition instruments keeps (<see cref="SiloHostOptions.PartitionMetricSeries"/>).
/// OpenTelemetry keeps at most 2,000 per instrument unless a view says otherwise; past that it folds every new series
/// into one tagged <c>otel.metric.overflow</c>, so a silo that had led more partitions (or logs) than that since it
/// started reported the rest unattributed.
/// </summary>
internal static class PartitionSeriesLimit
{
    /// <summary>The instruments tagged per log (and per partition with <see cref="SiloHostOptions.PartitionMetrics"/>).</summary>
    public static readonly string[] Instruments =
        [ReplicationInstruments.AppendedRecords.Name, ReplicationInstruments.AppendedBytes.Name, ReplicationInstruments.CommitDuration.Name];

    /// <summary>Adds the view that gives the partition instruments <paramref name="limit"/> series each.</summary>
    public static MeterProviderBuilder AddPartitionSeriesLimit(this MeterProviderBuilder metrics, int limit) =>
        metrics.AddView(instrument =>
            instrument.Meter.Name == ReplicationInstruments.MeterName && Array.IndexOf(Instruments, instrument.Name) >= 0
                ? new MetricStreamConfiguration { CardinalityLimit = limit }
                : null);
}
