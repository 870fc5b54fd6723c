using System.Collections.Concurrent;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// A single-threaded synchronization context standing in for a grain activation's scheduler: continuations run one at
/// a time, in the order they were posted, only when the test lets them (<see cref="RunPending"/>). Store completions
/// arrive from the store's own thread and are queued here like any other turn.
/// </summary>
internal sealed class TurnContext : SynchronizationContext
{
    private readonly ConcurrentQueue<(SendOrPostCallback Callback, object? State)> _turns = new();

    public override void Post(SendOrPostCallback d, object? state) => _turns.Enqueue((d, state));

    public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException("no synchronous turns");

    public int Pending => _turns.Count;

    /// <summary>Runs queued turns (and the ones they queue) until none is left.</summary>
    public void RunPending()
    {
        var previous = Current;
        SetSynchronizationContext(this);
        try
        {
            while (_turns.TryDequeue(out var turn))
            {
                turn.Callback(turn.State);
            }
        }
        finally
        {
            SetSynchronizationContext(previous);
        }
    }

    /// <summary>Runs turns until nothing is queued and no store write is outstanding for a moment.</summary>
    public void Drain()
    {
        for (var quiet = 0; quiet < 20;)
        {
            if (Pending > 0)
            {
                RunPending();
                quiet = 0;
            }
            else
            {
                Thread.Sleep(2);
                quiet++;
            }
        }
    }

    /// <summary>Runs <paramref name="action"/> as a turn now.</summary>
    public void Run(Action action)
    {
        var previous = Current;
        SetSynchronizationContext(this);
        try
        {
            action();
        }
        finally
        {
            SetSynchronizationContext(previous);
        }
    }

    /// <summary>Waits (without running turns) until a turn is queued, e.g. a store write's completion.</summary>
    public void WaitForTurn(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (_turns.IsEmpty)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("no turn was queued");
            }

            Thread.Sleep(1);
        }
    }
}
