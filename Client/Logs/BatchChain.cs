namespace Pyralog.Client.Logs;

/// <summary>Batches to send or give up, linked through <see cref="PendingBatch.NextToSend"/> while a partition's lock is held (no allocation).</summary>
internal struct BatchChain
{
    public PendingBatch? Head;
    private PendingBatch? _tail;

    public void Add(PendingBatch batch)
    {
        if (_tail is null)
        {
            Head = batch;
        }
        else
        {
            _tail.NextToSend = batch;
        }

        _tail = batch;
    }
}
