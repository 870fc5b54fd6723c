using System.Diagnostics;
using Pyralog.Client;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// A producer at a fixed, low rate (open loop: a record is sent when it is due, whether or not earlier ones were
/// acknowledged), each record to the next partition of the log in turn, through the client library as an application
/// would (idempotent, no linger). What the scaling cases watch: its latency (call to acknowledgement) in the windows
/// they set with <see cref="Begin"/>, against a load far below what the cluster sustains, so a move's cost shows as
/// latency rather than as lost throughput.
/// </summary>
internal sealed class SteadyProducer : IAsyncDisposable
{
    private readonly LogProducer _producer;
    private readonly string _log;
    private readonly int _partitions;
    private readonly int _ratePerSecond;
    private readonly ProducerRecord _record = new(null, ClusterSettings.Payload());
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _pacing;
    private ProducerWindow? _window;
    private long _outstanding;
    private long _sent;

    public SteadyProducer(PyralogClient client, string log, int partitions, int ratePerSecond)
    {
        _producer = client.CreateProducer(new ProducerOptions { Linger = TimeSpan.Zero, MaxInFlight = 5, Idempotent = true });
        _log = log;
        _partitions = partitions;
        _ratePerSecond = ratePerSecond;
        _pacing = Task.Run(PaceAsync);
    }

    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Records started from now on count in a new window of that name.</summary>
    public ProducerWindow Begin(string name)
    {
        var window = new ProducerWindow(name);
        Volatile.Write(ref _window, window);
        return window;
    }

    /// <summary>Records started from now on count in no window.</summary>
    public void End() => Volatile.Write(ref _window, null);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _pacing;
        // Records still unacknowledged settle within the producer's delivery timeout (2 minutes).
        var deadline = Stopwatch.StartNew();
        var unacknowledged = Interlocked.Read(ref _outstanding);
        while (Interlocked.Read(ref _outstanding) > 0 && deadline.Elapsed < TimeSpan.FromMinutes(3))
        {
            await Task.Delay(50);
        }

        if (deadline.Elapsed > TimeSpan.FromSeconds(1))
        {
            ClusterSettings.Log($"steady producer: {unacknowledged} records were unacknowledged when it stopped; {Interlocked.Read(ref _outstanding)} still after {deadline.Elapsed.TotalSeconds:0} s (the producer fails a record after 2 minutes)");
        }

        await _producer.DisposeAsync();
        _stopping.Dispose();
    }

    private async Task PaceAsync()
    {
        var interval = Stopwatch.Frequency / _ratePerSecond;
        var due = Stopwatch.GetTimestamp();
        long n = 0;
        while (!_stopping.IsCancellationRequested)
        {
            // Every record due by now goes out (a late wake-up sends the ones it owes at once), then sleep about 1 ms.
            for (var now = Stopwatch.GetTimestamp(); due <= now; due += interval)
            {
                Send(n++);
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(1), _stopping.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private void Send(long n)
    {
        var window = Volatile.Read(ref _window);
        window?.Start();
        Interlocked.Increment(ref _outstanding);
        Interlocked.Increment(ref _sent);
        var start = Stopwatch.GetTimestamp();
        _producer.ProduceAsync(_log, (int)(n % _partitions), _record).ContinueWith(
            produced =>
            {
                if (produced.IsCompletedSuccessfully)
                {
                    window?.Acknowledged(Stopwatch.GetTimestamp() - start);
                }
                else
                {
                    var error = produced.Exception?.InnerException; // observed even outside any window
                    window?.Fail(error);
                }

                Interlocked.Decrement(ref _outstanding);
            },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }
}
