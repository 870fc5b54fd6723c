using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Pyralog.Silo.Tests.Http;

/// <summary>Collects, per export, the <c>pyralog.log.id</c> of every point of one instrument, and whether any point was an overflow series.</summary>
internal sealed class LogSeriesExporter(string instrument) : BaseExporter<Metric>
{
    public HashSet<long> LogIds { get; } = [];

    public bool Overflowed { get; private set; }

    public override ExportResult Export(in Batch<Metric> batch)
    {
        foreach (var metric in batch)
        {
            if (metric.Name != instrument)
            {
                continue;
            }

            foreach (ref readonly var point in metric.GetMetricPoints())
            {
                foreach (var tag in point.Tags)
                {
                    if (tag.Key == "pyralog.log.id" && tag.Value is long id)
                    {
                        LogIds.Add(id);
                    }
                    else if (tag.Key == "otel.metric.overflow")
                    {
                        Overflowed = true;
                    }
                }
            }
        }

        return ExportResult.Success;
    }
}
