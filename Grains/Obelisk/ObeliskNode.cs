using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
 *
 * The format ends at ScarabId.MaxTimestamp (2094). A wall clock reading past it (a bad NTP answer, an RTC reset, a
 * typo in `date -s`) is not followed — it is logged once and the clock carries on at the monotonic rate — because an
 * offset, once taken, is never given back: following it would move the counter file and the lease record past the
 * format's end, and every later ID of this obelisk id, on every silo, would fail. A node that has not yet read the wall
 * clock within the format issues nothing until it does: its counter file and lease floor alone are no time reference
 * once a lease record was lost (in-memory lease storage), and the holder that record fenced may have issued IDs
 * above both; the lease's safety rests on a newcomer's clock being past them. For the same reason a reservation
 * is range-checked inside the counter's compare-and-swap, before anything moves or is made durable: only an obelisk
 * that has really issued up to the end fails, with an error that names it.
 */

/// <summary>Issues Scarab IDs for one obelisk id. Thread-safe.</summary>
public sealed class ObeliskNode
{
    /// <summary>The sequencer's unit shift: one byte of counter file per millisecond.</summary>
    public const int SequencerUnitShift = ScarabId.SequenceBits;

    /// <summary>The counter's end: every tick below it encodes a timestamp the format can hold.</summary>
    private const ulong TickLimit = (ScarabId.MaxMilliseconds + 1) << SequencerUnitShift;

    private readonly ObeliskSequencer _sequencer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _leadMs;
    private readonly long _startTimestamp;
    private readonly long _timestampTicksPerMs;
    private long _offsetMs;
    private long _wallCheckedAtMs = -1;
    private long _issued;
    private int _wallRefused;
    // Invariant: 1 once the node has taken a wall clock reading within the format (it then never goes back to 0).
    private int _wallTaken;

    /// <param name="obeliskId">0..1023.</param>
    /// <param name="sequencer">A sequencer opened with unit shift <see cref="SequencerUnitShift"/>.</param>
    /// <param name="time">The clock.</param>
    /// <param name="maxClockLead">How far ahead of the clock an issued ID's timestamp may be.</param>
    /// <param name="floorMilliseconds">No ID is issued with a timestamp below this (ms since the Pyralog epoch).</param>
    /// <param name="logger">Where a wall clock reading past the format's end is reported.</param>
    public ObeliskNode(
        int obeliskId, ObeliskSequencer sequencer, TimeProvider time, TimeSpan maxClockLead, ulong floorMilliseconds = 0, ILogger? logger = null)
    {
        ScarabId.ValidateObeliskId(obeliskId);
        ArgumentNullException.ThrowIfNull(sequencer);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxClockLead, TimeSpan.Zero);
        ObeliskId = obeliskId;
        _sequencer = sequencer;
        _time = time;
        _logger = logger ?? NullLogger.Instance;
        _leadMs = (long)maxClockLead.TotalMilliseconds;
        _timestampTicksPerMs = Math.Max(1, time.TimestampFrequency / 1000);
        _startTimestamp = time.GetTimestamp();
        var start = Math.Max(sequencer.Recovered >> SequencerUnitShift, floorMilliseconds);
        var wallMs = Wall(out var wall);
        if (wallMs <= ScarabId.MaxMilliseconds)
        {
            start = Math.Max(start, wallMs);
            _wallTaken = 1;
        }
        else
        {
            RefuseWall(wall);
        }

        // A start past the format's end (a floor from a record written so) only has to make every Reserve fail.
        _offsetMs = (long)Math.Min(start, ScarabId.MaxMilliseconds + 1);
    }

    public int ObeliskId { get; }

    /// <summary>IDs issued by this node.</summary>
    public long Issued => Interlocked.Read(ref _issued);

    /// <summary>
    /// The obelisk's clock in ms since the Pyralog epoch: never behind the wall clock (unless that reads past the format's
    /// end), never going backwards.
    /// </summary>
    public ulong NowMilliseconds
    {
        get
        {
            var monotonicMs = (_time.GetTimestamp() - _startTimestamp) / _timestampTicksPerMs;
            var offset = Volatile.Read(ref _offsetMs);
            if (monotonicMs != Volatile.Read(ref _wallCheckedAtMs))
            {
                Volatile.Write(ref _wallCheckedAtMs, monotonicMs);
                var wallMs = Wall(out var wall);
                if (wallMs > ScarabId.MaxMilliseconds)
                {
                    RefuseWall(wall);
                }
                else
                {
                    if (Volatile.Read(ref _wallRefused) != 0)
                    {
                        Volatile.Write(ref _wallRefused, 0); // a later bad reading is a new incident, logged again
                    }

                    Volatile.Write(ref _wallTaken, 1);

                    var behind = (long)wallMs - monotonicMs;
                    while (behind > offset)
                    {
                        // The wall clock moved ahead (it was stepped forward, or it was behind at start): follow it, once.
                        var seen = Interlocked.CompareExchange(ref _offsetMs, behind, offset);
                        offset = seen == offset ? behind : seen;
                    }
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
        if (Volatile.Read(ref _wallTaken) == 0)
        {
            throw new InvalidOperationException(
                $"Obelisk {ObeliskId} issues no IDs until the wall clock reads a time before {ScarabId.MaxTimestamp:O}, the last a Scarab ID holds "
                + $"(it reads {_time.GetUtcNow():O}): without it the obelisk has no time reference and could reissue IDs its previous holder handed out. "
                + "Correct the system clock.");
        }

        if (nowMs > ScarabId.MaxMilliseconds || !_sequencer.TryNextAtLeast(nowMs << SequencerUnitShift, (ulong)count, TickLimit, out var first))
        {
            throw new OverflowException(
                $"Obelisk {ObeliskId} has exhausted the Scarab ID time range: {count} more ID(s) would be stamped past {ScarabId.MaxTimestamp:O}, "
                + $"the last time the format holds (its clock is at {Math.Min(nowMs, ScarabId.MaxMilliseconds + 1)} ms after the Pyralog epoch, "
                + $"its counter file '{_sequencer.Path}' at {_sequencer.Peek >> SequencerUnitShift} ms).");
        }

        lastMs = (first + (ulong)count - 1) >> SequencerUnitShift;

        Interlocked.Add(ref _issued, count);
        var id = ScarabId.Compose(first >> SequencerUnitShift, ObeliskId, (int)(first & ScarabId.MaxSequence));
        return new ScarabIdBlock(new ScarabId(id), count);
    }

    /// <summary>The wall clock in ms since the Pyralog epoch (0 before it); <paramref name="wall"/> is the reading itself.</summary>
    private ulong Wall(out DateTimeOffset wall)
    {
        wall = _time.GetUtcNow();
        var ms = wall.ToUnixTimeMilliseconds() - ScarabId.EpochUnixMilliseconds;
        return ms > 0 ? (ulong)ms : 0;
    }

    /// <summary>Reports a wall clock past the format's end, once until the wall clock reads sanely again.</summary>
    private void RefuseWall(DateTimeOffset wall)
    {
        if (Interlocked.Exchange(ref _wallRefused, 1) == 0)
        {
            _logger.LogWarning(
                "Obelisk {ObeliskId} ignores the wall clock reading {WallClock:O}: it is past {MaxTimestamp:O}, the last time a Scarab ID holds. "
                + "It keeps issuing from its monotonic clock; correct the system clock",
                ObeliskId, wall, ScarabId.MaxTimestamp);
        }
    }
}
