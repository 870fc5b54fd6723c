using System.Runtime.ExceptionServices;
using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Client.Obelisk;

/*
 * ScarabIdGenerator: leases blocks of Scarab IDs from obelisk grains and hands IDs out from memory (one interlocked
 * increment per ID), routing around obelisks that are slow, frozen or gone.
 *
 * Guarantees:
 *  - No ID is handed out twice: every block was leased to this generator alone (the obelisk's own guarantee), and
 *    each block is taken once. Uniqueness never depends on which request answers first, so a late block is still
 *    used when it arrives.
 *  - Per obelisk id, blocks are taken in the order the obelisk issued them: requests to one obelisk id are chained
 *    (each is sent once the previous one answered; Orleans does not keep concurrent calls in order), so a later
 *    request to an obelisk completes only after an earlier one, and the generator takes the first completed block
 *    in request order. A generator on a single obelisk id therefore yields strictly increasing IDs.
 *  - A caller waits for a block only as long as it takes some obelisk to answer: PrefetchBlocks requests are kept on
 *    time. A request not answered within RequestDeadline of being sent is late: it stops counting towards the
 *    prefetch (it stays outstanding and its block is used if it comes), its obelisk id is skipped for new requests
 *    until one of its requests answers (the late request itself is the probe; after a request failed outright the id
 *    is avoided for a second, then asked again), and a new request goes to another obelisk id (a hedge), preferring
 *    one with nothing in the pipeline. While ids are late and fewer are usable than the prefetch needs, an automatic
 *    spread extends to the adjacent ids (up to four times the spread) rather than wait or queue behind one id: a
 *    frozen silo can hold up more than its own obelisks (leases renewed through storage grains on it, calls routed
 *    through its gateway), so the reserve must be deep. With ObeliskIds fixed there is nothing beyond them to hedge
 *    to: a generator fixed to one obelisk id waits for that obelisk.
 *  - A failure (a request that used up MaxAttempts) reaches a caller only when no other request is on time, so a
 *    dead obelisk does not surface as an error while others serve.
 *
 * Frozen silos: a call into a silo stopped with SIGSTOP neither answers nor fails until the silo runs again (or the
 * Orleans response timeout); the deadline is what notices it. The callers' wait is one deadline plus one round trip
 * to a healthy obelisk, whatever the freeze lasts.
 */

/// <summary>
/// Leases blocks of Scarab IDs from obelisk grains and hands IDs out from memory, hedging around late obelisks
/// (see the design comment above the class).
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

    /// <summary>One obelisk id the generator leases from.</summary>
    private sealed class Obelisk(int id)
    {
        public readonly int Id = id;

        /// <summary>The last request sent to this obelisk id; the next one is sent after it answered.</summary>
        public Task Tail = Task.CompletedTask;

        /// <summary>A request to it passed its deadline unanswered: skipped for new requests until one answers.</summary>
        public bool Late;

        /// <summary>After a request failed outright: not asked again before this timestamp.</summary>
        public long AvoidUntil;

        /// <summary>Its requests in the pipeline (answered or not).</summary>
        public int Requests;
    }

    private sealed class Request(Obelisk obelisk)
    {
        public readonly Obelisk Obelisk = obelisk;

        public Task<ScarabIdBlock> Block = null!;

        /// <summary>When the call went out (after the previous request to the obelisk answered); long.MaxValue before.</summary>
        public long SentAt = long.MaxValue;

        /// <summary>No longer counted towards the prefetch: past its deadline, or queued behind a late request.</summary>
        public bool Late;
    }

    private readonly IGrainFactory _grains;
    private readonly TimeProvider _time;
    private readonly int _blockSize;
    private readonly int _prefetch;
    private readonly int _maxAttempts;
    private readonly TimeSpan _retryDelay;
    private readonly long _deadlineTicks;
    private readonly long _avoidTicks;
    private readonly int _maxObelisks;
    private readonly object _gate = new();
    private readonly List<Request> _pipeline = [];
    private readonly List<Obelisk> _obelisks = [];
    private Lease _current = new(default);
    private int _onTime;
    private int _nextObelisk;
    private int _nextExtension;

    public ScarabIdGenerator(IGrainFactory grains, ScarabIdGeneratorOptions options)
        : this(grains, options, TimeProvider.System)
    {
    }

    /// <summary>A generator timing its deadlines and retries on <paramref name="time"/>.</summary>
    public ScarabIdGenerator(IGrainFactory grains, ScarabIdGeneratorOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        options.Validate();
        _grains = grains;
        _time = time;
        _blockSize = options.BlockSize;
        _prefetch = options.PrefetchBlocks;
        _maxAttempts = options.MaxAttempts;
        _retryDelay = options.RetryDelay;
        _deadlineTicks = (long)(options.RequestDeadline.TotalSeconds * time.TimestampFrequency);
        _avoidTicks = (long)(MaxRetryDelay.TotalSeconds * time.TimestampFrequency);
        if (options.ObeliskIds is { } ids)
        {
            foreach (var id in ids)
            {
                _obelisks.Add(new Obelisk(id));
            }

            _maxObelisks = _obelisks.Count;
        }
        else
        {
            var start = Random.Shared.Next(ScarabId.MaxObeliskId + 1);
            for (var i = 0; i < options.Spread; i++)
            {
                _obelisks.Add(new Obelisk((start + i) & ScarabId.MaxObeliskId));
            }

            _nextExtension = (start + options.Spread) & ScarabId.MaxObeliskId;
            _maxObelisks = Math.Min(4 * options.Spread, ScarabId.MaxObeliskId + 1);
        }

        lock (_gate)
        {
            RefillLocked(_time.GetTimestamp());
        }
    }

    /// <summary>The obelisk ids this generator leases from now (the configured ones, then any it extended to).</summary>
    public IReadOnlyList<int> ObeliskIds
    {
        get
        {
            lock (_gate)
            {
                var ids = new int[_obelisks.Count];
                for (var i = 0; i < ids.Length; i++)
                {
                    ids[i] = _obelisks[i].Id;
                }

                return ids;
            }
        }
    }

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
            TimeSpan recheck;
            lock (_gate)
            {
                if (TryTakeLocked(out var id, out var failed))
                {
                    return id;
                }

                if (failed is not null)
                {
                    // Nothing else is on its way: the caller hears why; the next call leases afresh.
                    ExceptionDispatchInfo.Throw(failed.InnerException ?? failed);
                }

                (pending, recheck) = WaitForLocked(_time.GetTimestamp());
            }

            // Wake when a request answers, or when the earliest on-time request reaches its deadline (to hedge).
            await pending.WaitAsync(recheck, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// Takes from the current block, moving to the first successfully completed block (in request order) when it is
    /// used up. Failed requests are dropped (their obelisks avoided for a while); a failure is returned only when no
    /// request was left on time.
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

            var now = _time.GetTimestamp();
            MarkLateLocked(now);
            var failure = DropFailedLocked(now);
            var nothingOnTime = _onTime == 0;
            var arrived = _pipeline.FindIndex(static r => r.Block.IsCompletedSuccessfully);
            if (arrived < 0)
            {
                RefillLocked(now);
                failed = nothingOnTime ? failure : null;
                return false;
            }

            var request = RemoveLocked(arrived);
            RefillLocked(now);
            Volatile.Write(ref _current, new Lease(request.Block.Result));
        }
    }

    /// <summary>Removes every failed request, avoiding its obelisk for a while; returns the first failure, if any.</summary>
    private AggregateException? DropFailedLocked(long now)
    {
        AggregateException? first = null;
        for (var i = 0; i < _pipeline.Count; i++)
        {
            var request = _pipeline[i];
            if (request.Block.IsCompleted && !request.Block.IsCompletedSuccessfully)
            {
                RemoveLocked(i--);
                request.Obelisk.Late = false;
                request.Obelisk.AvoidUntil = now + _avoidTicks;
                first ??= request.Block.Exception;
            }
        }

        return first;
    }

    private Request RemoveLocked(int index)
    {
        var request = _pipeline[index];
        _pipeline.RemoveAt(index);
        request.Obelisk.Requests--;
        if (!request.Late)
        {
            _onTime--;
        }

        return request;
    }

    /// <summary>
    /// An obelisk with a request past its deadline is late, and so is every request queued to it; an obelisk whose
    /// request answered is no longer late.
    /// </summary>
    private void MarkLateLocked(long now)
    {
        var overdueSentBefore = now - _deadlineTicks;
        foreach (var request in _pipeline)
        {
            if (request.Block.IsCompletedSuccessfully)
            {
                request.Obelisk.Late = false;
            }
            else if (!request.Block.IsCompleted && Volatile.Read(ref request.SentAt) <= overdueSentBefore)
            {
                request.Obelisk.Late = true;
            }
        }

        foreach (var request in _pipeline)
        {
            if (!request.Late && request.Obelisk.Late && !request.Block.IsCompleted)
            {
                request.Late = true;
                _onTime--;
            }
        }
    }

    /// <summary>What a waiting caller waits for: any request to answer, or the next deadline to pass.</summary>
    private (Task Pending, TimeSpan Recheck) WaitForLocked(long now)
    {
        var tasks = new Task[_pipeline.Count];
        var earliest = now + _deadlineTicks;
        for (var i = 0; i < tasks.Length; i++)
        {
            var request = _pipeline[i];
            tasks[i] = request.Block;
            var sentAt = Volatile.Read(ref request.SentAt);
            if (!request.Late && sentAt != long.MaxValue && sentAt + _deadlineTicks < earliest)
            {
                earliest = sentAt + _deadlineTicks;
            }
        }

        var recheck = earliest <= now ? TimeSpan.Zero : _time.GetElapsedTime(now, earliest);
        return (Task.WhenAny(tasks), recheck); // never empty: a refill always leaves a request outstanding
    }

    private void RefillLocked(long now)
    {
        while (_onTime < _prefetch && PickObeliskLocked(now) is { } obelisk)
        {
            var request = new Request(obelisk);
            request.Block = LeaseBlockAsync(request, obelisk.Tail);
            obelisk.Tail = request.Block;
            obelisk.Requests++;
            _pipeline.Add(request);
            _onTime++;
        }
    }

    /// <summary>
    /// The next obelisk in turn that is neither late nor avoided and has no request in the pipeline; else, while some
    /// are late or avoided and fewer are usable than the prefetch needs, an adjacent new one (so hedges probe several ids at once instead of
    /// queueing behind one); else the next usable one in turn (its requests are chained); else none.
    /// </summary>
    private Obelisk? PickObeliskLocked(long now)
    {
        var count = _obelisks.Count;
        var usable = 0;
        for (var i = 0; i < count; i++)
        {
            var index = (_nextObelisk + i) % count;
            var obelisk = _obelisks[index];
            if (!obelisk.Late && obelisk.AvoidUntil <= now)
            {
                if (obelisk.Requests == 0)
                {
                    _nextObelisk = (index + 1) % count;
                    return obelisk;
                }

                usable++;
            }
        }

        if (usable < count && usable < _prefetch && count < _maxObelisks)
        {
            var extension = new Obelisk(_nextExtension);
            _nextExtension = (_nextExtension + 1) & ScarabId.MaxObeliskId;
            _obelisks.Add(extension);
            return extension;
        }

        for (var i = 0; i < count; i++)
        {
            var index = (_nextObelisk + i) % count;
            var obelisk = _obelisks[index];
            if (!obelisk.Late && obelisk.AvoidUntil <= now)
            {
                _nextObelisk = (index + 1) % count;
                return obelisk;
            }
        }

        if (_pipeline.Count == 0)
        {
            // Every obelisk failed a moment ago and nothing is outstanding: ask one anyway, or callers wait for nothing.
            var obelisk = _obelisks[_nextObelisk];
            _nextObelisk = (_nextObelisk + 1) % count;
            return obelisk;
        }

        return null;
    }

    private async Task<ScarabIdBlock> LeaseBlockAsync(Request request, Task previousRequest)
    {
        await previousRequest.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Volatile.Write(ref request.SentAt, _time.GetTimestamp());
        var obelisk = _grains.GetGrain<IObeliskGrain>(request.Obelisk.Id);
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
                await Task.Delay(delay < MaxRetryDelay ? delay : MaxRetryDelay, _time).ConfigureAwait(false);
            }
        }
    }
}
