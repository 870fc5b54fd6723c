using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Pyralog.Client.Diagnostics;

/// <summary>
/// The client's instruments (meter and activity source <c>Pyralog.Client</c>): records produced and consumed, produce
/// retries, and a span per produced batch. Applications export them with their own OpenTelemetry setup
/// (<c>AddMeter("Pyralog.Client")</c>, <c>AddSource("Pyralog.Client")</c>); nothing is recorded when nothing listens.
/// </summary>
public static class ClientInstruments
{
    public const string Name = "Pyralog.Client";

    private static readonly Meter Meter = new(Name);

    /// <summary>A span per batch sent to a partition leader; Orleans' call span and the leader's append span are its children.</summary>
    public static readonly ActivitySource Source = new(Name);

    public static readonly Counter<long> ProducedRecords = Meter.CreateCounter<long>(
        "pyralog.client.produced.records", "{record}", "Records whose append a partition leader acknowledged.");

    public static readonly Counter<long> ProduceRetries = Meter.CreateCounter<long>(
        "pyralog.client.produce.retries", "{retry}", "Batches sent again (leader change, timeout, lost silo).");

    public static readonly Counter<long> ConsumedRecords = Meter.CreateCounter<long>(
        "pyralog.client.consumed.records", "{record}", "Records consumers returned to the application.");

    /// <summary>Tags of a log's series (the log's name: applications have few logs).</summary>
    public static TagList LogTags(string log) => new() { { "pyralog.log", log } };
}
