using System.Runtime.ExceptionServices;
using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Client.Obelisk;

/// <summary>
/// Leases blocks of Scarab IDs from obelisk grains and hands IDs out from memory: one interlocked increment per ID.
/// <see cref="ScarabIdGeneratorOptions.PrefetchBlocks"/> requests are kept outstanding; the pipeline is topped up
/// each time a block is taken. Orleans does not promise to deliver concurrent calls in order, so requests to one
/// obelisk id are chained (each is sent once the previous one answered): the obelisk issues them in request order,
/// and since a later request to an obelisk cannot complete before an earlier one, taking the first completed block
/// in request order keeps a single-obelisk generator strictly increasing while a slow obelisk does not hold up
/// blocks that arrived from the others. An ID is never handed out twice: each block was given to this generator alone.
/// </summary>
public sealed class ScarabIdGenerator : IScarabIdGenerator
{
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);

    private sealed class Lease(ScarabIdBlock block)
    {
        public readonly ScarabIdBlock Block = block;

        // 64 bits: failed takes on a used-up block keep incrementing, and a 32-bit count would wrap into reissued IDs.
        public long Taken;
    }

    private readonly IGrainFactory _grains;
    private readonly int[] _obeliskIds;
    private readonly int _blockSize;
    private readonly int _prefetch;
    private readonly int _maxAttempts;
    private readonly TimeSpan _retryDelay;
    private readonly object _gate = new();
    private readonly List<Task<ScarabIdBlock>> _pipeline = [];
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
        TryTakeCurrent(out var id) ? new ValueTask<ScarabId>(id) : NextSlowAsync(cancellationToken);

    public bool TryNext(out ScarabId id)
    {
        if (TryTakeCurrent(out id))
        {
            return true;
        }

        lock (_gate)
        {
            return TryTakeLocked(out id, out _);
        }
    }

    private bool TryTakeCurrent(out ScarabId id)
    {
        var lease = Volatile.Read(ref _current);
        var index = Interlocked.Increment(ref lease.Taken) - 1;
        if (index < lease.Block.Count)
        {
            id = lease.Block[(int)index];
            return true;
        }

        id = default;
        return false;
    }

    private async ValueTask<ScarabId> NextSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task pending;
            lock (_gate)
            {
                if (TryTakeLocked(out var id, out var failed))
                {
                    return id;
                }

                if (failed is not null)
                {
                    // Every attempt for that block failed: the caller hears why; the next call leases afresh.
                    ExceptionDispatchInfo.Throw(failed.InnerException ?? failed);
                }

                pending = Task.WhenAny(_pipeline);
            }

            await pending.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// Takes from the current block, moving to the first completed block (in request order) when it is used up.
    /// A block whose request failed is removed and its failure returned instead.
    /// </summary>
    private bool TryTakeLocked(out ScarabId id, out AggregateException? failed)
    {
        failed = null;
        while (true)
        {
            if (TryTakeCurrent(out id))
            {
                return true;
            }

            var arrived = _pipeline.FindIndex(static t => t.IsCompleted);
            if (arrived < 0)
            {
                return false;
            }

            var request = _pipeline[arrived];
            _pipeline.RemoveAt(arrived);
            RefillLocked();
            if (!request.IsCompletedSuccessfully)
            {
                failed = request.Exception;
                return false;
            }

            Volatile.Write(ref _current, new Lease(request.Result));
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
            _pipeline.Add(request);
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
                // A silo loss takes membership detection plus the obelisk's lease wait to heal: keep trying, gently.
                var delay = _retryDelay * attempt;
                await Task.Delay(delay < MaxRetryDelay ? delay : MaxRetryDelay).ConfigureAwait(false);
            }
        }
    }
}
