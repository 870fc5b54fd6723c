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

    /// <summary>An activation of <paramref name="key"/> starts: waits out a drop of its data under way, then holds the gate until <see cref="Exit"/>.</summary>
    public async Task EnterAsync(string key)
    {
        while (true)
        {
            Task drop;
            lock (_lock)
            {
                if (!_dropping.TryGetValue(key, out var dropping))
                {
                    _open[key] = _open.GetValueOrDefault(key) + 1;
                    return;
                }

                drop = dropping.Task;
            }

            await drop.ConfigureAwait(false);
        }
    }

    /// <summary>An activation of <paramref name="key"/> that entered has ended (deactivated, or failed to activate).</summary>
    public void Exit(string key)
    {
        lock (_lock)
        {
            if (_open.TryGetValue(key, out var count))
            {
                if (count <= 1)
                {
                    _open.Remove(key);
                }
                else
                {
                    _open[key] = count - 1;
                }
            }
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
