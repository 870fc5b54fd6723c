using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Storage.Native.Obelisk;

namespace Pyralog.Grains.Obelisk;

/*
 * ObeliskNode: issues the Scarab IDs of one obelisk id from a clock and an ObeliskSequencer.
 *
 * The sequencer counts "ticks" = milliseconds × 8192 + sequence (unit shift 13, so its sparse file is as long
 * as the millisecond count). An ID's tick is reserved with one compare-and-swap at or above "now × 8192", and
 * the sequencer makes a high-water above it durable first (one extend + fsync per reserved block), so:
 *  - IDs are strictly increasing: ticks are handed out by one counter that only moves forward;
 *  - IDs never repeat after a crash: a recovered sequencer resumes above everything it may have returned;
 *  - a millisecond whose 8,192 sequence numbers are used rolls to sequence 0 of the next millisecond,
 *    because the next tick is simply the next counter value.
 *
 * The obelisk's clock is the monotonic clock plus an offset that only grows: it starts at or above the recovered
 * high-water and any floor the caller knows (an earlier activation's reservation), and moves up whenever the wall
 * clock is found ahead of it (the wall clock is read at most once per monotonic millisecond, which keeps an ID at
 * one monotonic read). A wall clock that goes backwards — even after first jumping forward — therefore never moves
 * IDs backwards and never stalls the obelisk: time keeps advancing at the monotonic rate. An obelisk that runs ahead of its clock (more than 8,192 IDs in a millisecond) waits until it
 * is at most MaxClockLead ahead, so over time it issues at most the format's 8,192 IDs per millisecond and an
 * ID's timestamp is never more than MaxClockLead after the obelisk's clock.
 */

/// <summary>Issues Scarab IDs for one obelisk id. Thread-safe.</summary>
public sealed class ObeliskNode
{
    /// <summary>The sequencer's unit shift: one byte of counter file per millisecond.</summary>
    public const int SequencerUnitShift = ScarabId.SequenceBits;

    private readonly ObeliskSequencer _sequencer;
    private readonly TimeProvider _time;
    private readonly long _leadMs;
    private readonly long _startTimestamp;
    private readonly long _timestampTicksPerMs;
    private long _offsetMs;
    private long _wallCheckedAtMs = -1;
    private long _issued;

    /// <param name="obeliskId">0..1023.</param>
    /// <param name="sequencer">A sequencer opened with unit shift <see cref="SequencerUnitShift"/>.</param>
    /// <param name="time">The clock.</param>
    /// <param name="maxClockLead">How far ahead of the clock an issued ID's timestamp may be.</param>
    /// <param name="floorMilliseconds">No ID is issued with a timestamp below this (ms since the Pyralog epoch).</param>
    public ObeliskNode(int obeliskId, ObeliskSequencer sequencer, TimeProvider time, TimeSpan maxClockLead, ulong floorMilliseconds = 0)
    {
        ScarabId.ValidateObeliskId(obeliskId);
        ArgumentNullException.ThrowIfNull(sequencer);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxClockLead, TimeSpan.Zero);
        ObeliskId = obeliskId;
        _sequencer = sequencer;
        _time = time;
        _leadMs = (long)maxClockLead.TotalMilliseconds;
        _timestampTicksPerMs = Math.Max(1, time.TimestampFrequency / 1000);
        _startTimestamp = time.GetTimestamp();
        _offsetMs = (long)Math.Max(Math.Max(WallMilliseconds(), sequencer.Recovered >> SequencerUnitShift), floorMilliseconds);
    }

    public int ObeliskId { get; }

    /// <summary>IDs issued by this node.</summary>
    public long Issued => Interlocked.Read(ref _issued);

    /// <summary>The obelisk's clock in ms since the Pyralog epoch: never behind the wall clock, never going backwards.</summary>
    public ulong NowMilliseconds
    {
        get
        {
            var monotonicMs = (_time.GetTimestamp() - _startTimestamp) / _timestampTicksPerMs;
            var offset = Volatile.Read(ref _offsetMs);
            if (monotonicMs != Volatile.Read(ref _wallCheckedAtMs))
            {
                Volatile.Write(ref _wallCheckedAtMs, monotonicMs);
                var behind = (long)WallMilliseconds() - monotonicMs;
                while (behind > offset)
                {
                    // The wall clock moved ahead (it was stepped forward, or it was behind at start): follow it, once.
                    var seen = Interlocked.CompareExchange(ref _offsetMs, behind, offset);
                    offset = seen == offset ? behind : seen;
                }
            }

            return (ulong)(monotonicMs + offset);
        }
    }

    /// <summary>The next ID; waits (on this thread) while the obelisk is more than MaxClockLead ahead of its clock.</summary>
    public ScarabId Next() => NextBlock(1).First;

    /// <summary>A run of <paramref name="count"/> IDs; waits (on this thread) while the obelisk is too far ahead of its clock.</summary>
    public ScarabIdBlock NextBlock(int count)
    {
        var block = Reserve(count, out var lastMs, out var now);
        while (lastMs > now + (ulong)_leadMs)
        {
            Thread.Sleep(1);
            now = NowMilliseconds;
        }

        return block;
    }

    /// <summary>A run of <paramref name="count"/> IDs; awaits (on the time provider's timers) while the obelisk is too far ahead of its clock.</summary>
    public async ValueTask<ScarabIdBlock> NextBlockAsync(int count, CancellationToken cancellationToken = default)
    {
        var block = Reserve(count, out var lastMs, out var now);
        while (lastMs > now + (ulong)_leadMs)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(lastMs - now - (ulong)_leadMs), _time, cancellationToken).ConfigureAwait(false);
            now = NowMilliseconds;
        }

        return block;
    }

    /// <summary>Reserves the ticks of a block; <paramref name="nowMs"/> is the clock reading the reservation used.</summary>
    private ScarabIdBlock Reserve(int count, out ulong lastMs, out ulong nowMs)
    {
        ScarabIdBlock.ValidateCount(count);
        nowMs = NowMilliseconds;
        var first = _sequencer.NextAtLeast(nowMs << SequencerUnitShift, (ulong)count);
        lastMs = (first + (ulong)count - 1) >> SequencerUnitShift;
        if (lastMs > ScarabId.MaxMilliseconds)
        {
            throw new OverflowException($"Obelisk {ObeliskId} has exhausted the Scarab ID time range (it ends {ScarabId.MaxTimestamp:O}).");
        }

        Interlocked.Add(ref _issued, count);
        var id = ScarabId.Compose(first >> SequencerUnitShift, ObeliskId, (int)(first & ScarabId.MaxSequence));
        return new ScarabIdBlock(new ScarabId(id), count);
    }

    private ulong WallMilliseconds()
    {
        var ms = _time.GetUtcNow().ToUnixTimeMilliseconds() - ScarabId.EpochUnixMilliseconds;
        return ms > 0 ? (ulong)ms : 0;
    }
}
