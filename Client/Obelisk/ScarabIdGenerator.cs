using System.Runtime.ExceptionServices;
using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Client.Obelisk;

/// <summary>
/// Leases blocks of Scarab IDs from obelisk grains and hands IDs out from memory: one interlocked increment per ID.
/// Blocks are requested ahead (<see cref="ScarabIdGeneratorOptions.PrefetchBlocks"/>, topped up when a block is half
/// used) and consumed in the order they were requested. Orleans does not promise to deliver concurrent calls in
/// order, so requests to one obelisk id are chained (each is sent once the previous one answered): the obelisk
/// then issues them in request order, and a generator on a single obelisk id yields strictly increasing IDs.
/// An ID is never handed out twice: each block was given to this generator alone.
/// </summary>
public sealed class ScarabIdGenerator : IScarabIdGenerator
{
    private sealed class Lease(ScarabIdBlock block)
    {
        public readonly ScarabIdBlock Block = block;
        public int Taken;
    }

    private readonly IGrainFactory _grains;
    private readonly int[] _obeliskIds;
    private readonly int _blockSize;
    private readonly int _prefetch;
    private readonly int _maxAttempts;
    private readonly TimeSpan _retryDelay;
    private readonly object _gate = new();
    private readonly Queue<Task<ScarabIdBlock>> _pipeline = new();
    private readonly Task[] _lastRequest;
    private Lease _current = new(default);
    private int _nextObelisk;

    public ScarabIdGenerator(IGrainFactory grains, ScarabIdGeneratorOptions options)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _grains = grains;
        _blockSize = options.BlockSize;
        _prefetch = options.PrefetchBlocks;
        _maxAttempts = options.MaxAttempts;
        _retryDelay = options.RetryDelay;
        if (options.ObeliskIds is { } ids)
        {
            _obeliskIds = [.. ids];
        }
        else
        {
            var start = Random.Shared.Next(ScarabId.MaxObeliskId + 1);
            _obeliskIds = new int[options.Spread];
            for (var i = 0; i < _obeliskIds.Length; i++)
            {
                _obeliskIds[i] = (start + i) & ScarabId.MaxObeliskId;
            }
        }

        _lastRequest = new Task[_obeliskIds.Length];
        Array.Fill(_lastRequest, Task.CompletedTask);
        lock (_gate)
        {
            RefillLocked();
        }
    }

    /// <summary>The obelisk ids this generator leases from.</summary>
    public IReadOnlyList<int> ObeliskIds => _obeliskIds;

    public ValueTask<ScarabId> NextAsync(CancellationToken cancellationToken = default) =>
        TryNext(out var id) ? new ValueTask<ScarabId>(id) : NextSlowAsync(cancellationToken);

    public bool TryNext(out ScarabId id)
    {
        var lease = Volatile.Read(ref _current);
        var index = Interlocked.Increment(ref lease.Taken) - 1;
        if (index < lease.Block.Count)
        {
            if (index == lease.Block.Count >> 1)
            {
                // Exactly one caller per block passes its midpoint: top the pipeline up there.
                lock (_gate)
                {
                    RefillLocked();
                }
            }

            id = lease.Block[index];
            return true;
        }

        lock (_gate)
        {
            return TryTakeLocked(out id);
        }
    }

    private async ValueTask<ScarabId> NextSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task<ScarabIdBlock> head;
            lock (_gate)
            {
                if (TryTakeLocked(out var id))
                {
                    return id;
                }

                RefillLocked();
                head = _pipeline.Peek();
            }

            // Completes (or faults) when the oldest outstanding block arrives; the loop then takes from it.
            await ((Task)head).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Takes from the current block, moving to the oldest arrived block when it is used up.</summary>
    private bool TryTakeLocked(out ScarabId id)
    {
        while (true)
        {
            var lease = _current;
            var index = Interlocked.Increment(ref lease.Taken) - 1;
            if (index < lease.Block.Count)
            {
                id = lease.Block[index];
                return true;
            }

            if (_pipeline.Count == 0 || !_pipeline.Peek().IsCompleted)
            {
                id = default;
                return false;
            }

            var arrived = _pipeline.Dequeue();
            RefillLocked();
            if (!arrived.IsCompletedSuccessfully)
            {
                // Every attempt for this block failed: the caller hears why; the next call leases afresh.
                ExceptionDispatchInfo.Throw(arrived.Exception!.InnerException ?? arrived.Exception);
            }

            Volatile.Write(ref _current, new Lease(arrived.Result));
        }
    }

    private void RefillLocked()
    {
        while (_pipeline.Count < _prefetch)
        {
            var slot = _nextObelisk;
            _nextObelisk = (slot + 1) % _obeliskIds.Length;
            var request = LeaseBlockAsync(_obeliskIds[slot], _lastRequest[slot]);
            _lastRequest[slot] = request;
            _pipeline.Enqueue(request);
        }
    }

    private async Task<ScarabIdBlock> LeaseBlockAsync(int obeliskId, Task previousRequest)
    {
        await previousRequest.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var obelisk = _grains.GetGrain<IObeliskGrain>(obeliskId);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await obelisk.NextBlockAsync(_blockSize).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not ArgumentException && attempt < _maxAttempts)
            {
                await Task.Delay(_retryDelay * attempt).ConfigureAwait(false);
            }
        }
    }
}
