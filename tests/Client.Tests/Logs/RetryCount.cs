using System.Diagnostics.Metrics;

namespace Pyralog.Client.Tests.Logs;

/// <summary>Counts the producer's retries of one log (pyralog.client.produce.retries) while it is not disposed.</summary>
internal sealed class RetryCount : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _value;

    public RetryCount(string log)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Pyralog.Client" && instrument.Name == "pyralog.client.produce.retries")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "pyralog.log" && tag.Value as string == log)
                {
                    Interlocked.Add(ref _value, value);
                }
            }
        });
        _listener.Start();
    }

    public long Value => Interlocked.Read(ref _value);

    public void Dispose() => _listener.Dispose();
}
