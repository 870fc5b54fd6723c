namespace Pyralog.Storage.Native;

/*
 * Failures of the commit path. A write or sync that fails faults the store: the failed group is failed, everything
 * queued behind it too, and every later write is refused until the store is reopened (acknowledged data is on disk, and
 * recovery is the one place that decides what a partly written frame means). The kernel reports a writeback error to
 * one fdatasync only: a store that went on would sync "successfully" next and acknowledge writes over the lost ones.
 */
public sealed partial class PyramidStore
{
    // Invariant: set once, under _queueLock, by the first failure; never cleared while the store is open.
    private Exception? _fault;
    private readonly TaskCompletionSource<Exception> _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void ThrowIfUnavailable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_fault is not null)
        {
            throw StoppedByFault();
        }
    }

    private IOException StoppedByFault() => new(
        $"the store at '{_directory}' stopped accepting writes after a failure ({_fault!.Message}); acknowledged data is intact on disk — reopen the store",
        _fault);

    /// <summary>The failure after which the store stopped accepting writes (a failed write or fdatasync; it holds until the
    /// store is reopened), or null while it accepts them.</summary>
    public Exception? Failure
    {
        get
        {
            lock (_queueLock)
            {
                return _fault;
            }
        }
    }

    /// <summary>Completes with <see cref="Failure"/> once the store stops accepting writes after a failure; never otherwise.</summary>
    public Task<Exception> Failed => _failed.Task;

    private void Fault(Exception e)
    {
        lock (_queueLock)
        {
            _fault ??= e;
            FailQueuedLocked();
        }

        _failed.TrySetResult(Failure!);

        TaskCompletionSource progress;
        lock (_viewLock)
        {
            progress = _flushProgress;
        }

        progress.TrySetException(e); // a commit waiting for flush room must not wait forever
    }

    private void FailQueuedLocked()
    {
        while (_queue.TryDequeue(out var next))
        {
            if (next.Batch is { } batch)
            {
                batch.Queued = false;
                _uncommittedWrites--;
            }

            next.Done.TrySetException(StoppedByFault());
        }
    }
}
