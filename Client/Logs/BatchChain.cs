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

    /// <summary>Appends a linked run of batches (null: none).</summary>
    public void Append(PendingBatch? head)
    {
        for (var batch = head; batch is not null; batch = batch.NextToSend)
        {
            if (batch.NextToSend is null)
            {
                if (_tail is null)
                {
                    Head = head;
                }
                else
                {
                    _tail.NextToSend = head;
                }

                _tail = batch;
            }
        }
    }
}
