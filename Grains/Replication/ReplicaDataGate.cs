namespace Pyralog.Grains.Replication;

/// <summary>
/// Keeps the silo's sweep of leftover replica data (<see cref="LeftoverReplicaSweep"/>) and the replica activations on
/// this silo apart: a replica's data is dropped only while no activation of it holds the gate here, and an activation
/// that starts while a drop is under way waits for it (it then starts fresh, as on a silo that never held the replica).
/// Without it a replica placed here just as the sweep judged its old data garbage could read its state and then lose it.
/// </summary>
internal sealed class ReplicaDataGate
{
    private readonly Lock _lock = new();

    // Invariant: per replica key, how many activations here entered and have not exited (two only in Orleans' rare
    // duplicate activations). Guarded by _lock.
    private readonly Dictionary<string, int> _open = new(StringComparer.Ordinal);

    // Invariant: the keys whose data is being dropped, never a key in _open; each completes when its drop ends. Guarded by _lock.
    private readonly Dictionary<string, TaskCompletionSource> _dropping = new(StringComparer.Ordinal);

    // Invariant: per replica key, the store writes an ended activation left queued (its deactivation timed out before they
    // landed); the key stays in _open until they have. Guarded by _lock.
    private readonly Dictionary<string, Task> _settling = new(StringComparer.Ordinal);

    // Invariant: per replica key, how many activations wait now: in EnterAsync for a drop or for queued writes, or in
    // WaitForWritesAsync, ending, for their own (absent: none). Guarded by _lock.
    private readonly Dictionary<string, int> _waiting = new(StringComparer.Ordinal);

    /// <summary>
    /// Whether an activation of <paramref name="key"/> waits now for the data to settle: an ending one for the writes it
    /// left queued (<see cref="WaitForWritesAsync"/>), or a starting one for a drop of its data or for an earlier
    /// activation's writes (<see cref="EnterAsync"/>). Either holds up the next activation's reading of its data.
    /// </summary>
    public bool HoldsUp(string key)
    {
        lock (_lock)
        {
            return _waiting.ContainsKey(key);
        }
    }

    /// <summary>An ending activation of <paramref name="key"/> waits for the store writes it left queued (until <paramref name="cancellationToken"/>: its deactivation timed out).</summary>
    public async Task WaitForWritesAsync(string key, Task written, CancellationToken cancellationToken)
    {
        AddWaiting(key);
        try
        {
            await written.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            RemoveWaiting(key);
        }
    }

    /// <summary>
    /// An activation of <paramref name="key"/> starts: waits out a drop of its data under way and the writes an earlier
    /// activation here left queued (see <see cref="ExitOnceWritten"/>), then holds the gate until it exits.
    /// </summary>
    public async Task EnterAsync(string key)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_dropping.TryGetValue(key, out var dropping))
                {
                    wait = dropping.Task;
                }
                else if (!_settling.TryGetValue(key, out wait!) || wait.IsCompleted)
                {
                    // A completed entry is one whose exit ran before it completed (the writes of two activations, the
                    // later one landing first): awaiting it again would spin here.
                    _settling.Remove(key);
                    Count(_open, key, +1);
                    return;
                }

                Count(_waiting, key, +1);
            }

            await wait.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            RemoveWaiting(key);
        }
    }

    private void AddWaiting(string key)
    {
        lock (_lock)
        {
            Count(_waiting, key, +1);
        }
    }

    private void RemoveWaiting(string key)
    {
        lock (_lock)
        {
            Count(_waiting, key, -1);
        }
    }

    /// <summary>Adds <paramref name="delta"/> to <paramref name="key"/>'s count; a count that reaches 0 (or a key not counted) is removed. Caller holds _lock.</summary>
    private static void Count(Dictionary<string, int> counts, string key, int delta)
    {
        var count = counts.GetValueOrDefault(key) + delta;
        if (count > 0)
        {
            counts[key] = count;
        }
        else
        {
            counts.Remove(key);
        }
    }

    /// <summary>
    /// An activation of <paramref name="key"/> that entered has ended with <paramref name="written"/> still to complete:
    /// the store writes it queued (persists whose acknowledgements and votes leave from the store's commit thread once
    /// they land). It exits once they have, and an activation that starts here meanwhile waits for them: opened earlier,
    /// it would read a log and hard state without them while the old writes' acknowledgements still went out in its name.
    /// </summary>
    public void ExitOnceWritten(string key, Task written)
    {
        if (written.IsCompleted)
        {
            Exit(key);
            return;
        }

        lock (_lock)
        {
            _settling[key] = _settling.TryGetValue(key, out var earlier) ? Task.WhenAll(earlier, written) : written;
        }

        _ = ExitWhenWrittenAsync(key, written);
    }

    private async Task ExitWhenWrittenAsync(string key, Task written)
    {
        await written.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        lock (_lock)
        {
            if (_settling.TryGetValue(key, out var settling) && settling.IsCompleted)
            {
                _settling.Remove(key); // one still pending covers a later activation's writes too
            }
        }

        Exit(key);
    }

    /// <summary>An activation of <paramref name="key"/> that entered has ended (deactivated, or failed to activate).</summary>
    public void Exit(string key)
    {
        lock (_lock)
        {
            Count(_open, key, -1);
        }
    }

    /// <summary>Claims <paramref name="key"/> for dropping its data: false while an activation holds it (or another drop does).</summary>
    public bool TryClaimForDrop(string key)
    {
        lock (_lock)
        {
            if (_open.ContainsKey(key) || _dropping.ContainsKey(key))
            {
                return false;
            }

            _dropping[key] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return true;
        }
    }

    /// <summary>The drop of <paramref name="key"/>'s data ended (done or failed): activations waiting for it go on.</summary>
    public void ReleaseDrop(string key)
    {
        TaskCompletionSource? dropping;
        lock (_lock)
        {
            _dropping.Remove(key, out dropping);
        }

        dropping?.SetResult();
    }
}
