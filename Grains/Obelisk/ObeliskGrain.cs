using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Storage.Native.Obelisk;

namespace Pyralog.Grains.Obelisk;

/*
 * ObeliskGrain: one obelisk id of the Pharaoh network, hosted by Orleans wherever it activates.
 *
 * Guarantees: IDs of one obelisk never repeat and, as seen by any caller, strictly increase — across a silo
 * crash, reactivation on another silo and the moments in which Orleans runs two activations of the grain.
 *
 * Two records carry that:
 *  1. The local counter file (ObeliskSequencer, via ObeliskNode) on the silo where the activation runs: within
 *     one silo, no tick is returned before a high-water above it is fsynced, so a crash of the process never
 *     reissues a tick. It does not help on another silo, whose disk never saw that file.
 *  2. The shared lease (ObeliskLease in Orleans grain storage, written with an ETag): Fence, LeaseExpires and
 *     ReservedUntil. An activation issues an ID only if the ID's millisecond is below ReservedUntil and its lease
 *     has not expired, as recorded in a write that succeeded. A new activation starts every ID at or above the
 *     ReservedUntil it read, and takes over by writing Fence + 1 under the ETag it read.
 *
 * What an operator cannot get wrong: an ID is unique within one Pharaoh network, which is one Orleans cluster (one
 * membership, one lease storage); the two records above make it so whatever the clocks do. The ways a configuration
 * could split one network into several that issue the same obelisk ids are closed by the operating system, not by
 * settings: a silo refuses to start on a silo or gateway port another process listens on (checked before Orleans
 * binds and again after, because Orleans' listeners allow port sharing), and it holds an exclusive lock on its data
 * directory for its life, so two silos never share a counter file and a client is never split between two one-silo
 * clusters behind one port (the duplicates seen before these checks). Two clusters started on purpose (other
 * ports, other data, another cluster id) are separate ID spaces: a client connects to exactly one.
 *
 * Uniqueness does not depend on clocks: every write is conditional on the ETag, so of two activations exactly one
 * write succeeds after the other has read. If the newcomer B wrote first, the old activation A's next renewal
 * fails and A stops; everything A issued lies below the ReservedUntil that B read, and B issues only above it.
 * If A renewed first, B's write fails and B's activation fails (the caller retries and reaches A).
 * Ordering across activations is kept by the lease: a holder issues without renewing only until half its lease
 * has passed, measured on the monotonic clock from when its write was sent (a wall clock stepping back cannot
 * stretch it). A newcomer that finds a lease not released waits until LeaseExpires + MaxClockSkew on its own wall
 * clock (capped at LeaseDuration + MaxClockSkew, so a dead holder whose clock ran far ahead cannot block it for
 * long), by when the holder has stopped, as MaxClockSkew < LeaseDuration / 2 (validated). No caller then sees the
 * old holder's lower IDs after the newcomer's. A clean deactivation releases the lease (LeaseExpires = 0, and
 * ReservedUntil tightened to what was really issued, never below the floor it started from), so a planned move
 * waits for nothing. On a graceful silo stop, ObeliskActivations deactivates the local obelisks first (a lifecycle
 * stop above ServiceLifecycleStage.Active), so they release while the silo and the lease storage still run, before
 * Orleans deactivates every grain at once (the in-memory storage's grains among them).
 *
 * Volatile storage (the in-memory default, whose records live in storage grains spread over the silos) loses the
 * records a silo held when it stops or dies — possibly while their holders live on elsewhere. A missing record
 * (fence 0) cannot be told from one never written, so a newcomer that finds none must assume a holder may still be
 * issuing and wait LeaseDuration + MaxClockSkew before writing. If the holder renews first, its write re-creates the
 * record (in-memory storage accepts a write to a missing record) and the newcomer's conditional write fails: the
 * caller retries and finds the holder's lease. If the newcomer writes first, the holder's renewal fails, so it
 * stopped issuing at most half a lease after its last successful write, and the newcomer, starting from the clock a
 * full lease later, is above everything it issued. That wait is needed only if a record can have been lost, which
 * takes a silo that left or died since the cluster began: every record was written to a storage grain on a live
 * silo, those grains are never collected while idle ([KeepAlive]), and only a silo leaving takes them with it. So
 * the newcomer waits only while the membership snapshot shows a member Dead, ShuttingDown or Stopping (dead members
 * stay in the table); otherwise the record was never written and there is nothing to wait for — the first use of an
 * obelisk on a healthy cluster is immediate. The snapshot is this silo's view: a newcomer beside a live holder needs
 * the directory to have lost the holder's registration, which happens only in processing the same silo's death, and
 * the membership update reaching this silo normally comes with it; a view lagging behind that update is the
 * remaining window. The wait is logged once (a warning naming the obelisk, the silo that left and the wait) and
 * reported in ObeliskStatus. Records on a silo that stops gracefully are lost too (their obelisks released into
 * them), so those obelisks wait once after a scale-down; a durable provider named "pyralog-obelisk" (Redis in the
 * silo's redis mode) keeps fence and reservation across everything and never waits for a missing record. A lone
 * silo's in-memory records end with it: the last silo of a cluster does not release into them (there is no silo left
 * to host the storage), and after a full cluster restart the local counter file and the clock carry on. The lease's
 * final home is the replicated metadata group (a later issue); this storage-provider lease is the interim.
 */

/// <summary>The obelisk grain: hands out Scarab IDs for one obelisk id under a fenced lease.</summary>
internal sealed class ObeliskGrain : Grain, IObeliskGrain
{
    private readonly IPersistentState<ObeliskLease> _lease;
    private readonly PyralogOptions _options;
    private readonly TimeProvider _time;
    private readonly ObeliskLeaseStorage _leaseStorage;
    private readonly IClusterMembershipService _membership;
    private readonly ObeliskActivations _activations;
    private readonly ILogger<ObeliskGrain> _logger;
    private ObeliskSequencer? _sequencer;
    private ObeliskNode? _node;
    private int _obeliskId;
    private ulong _floorMs;
    private long _renewAtTimestamp;
    private bool _holdsLease;
    private TimeSpan _leaseWait;
    private string? _leaseWaitReason;

    public ObeliskGrain(
        [PersistentState("lease", PyralogStorageNames.Obelisk)] IPersistentState<ObeliskLease> lease,
        IOptions<PyralogOptions> options,
        TimeProvider time,
        ObeliskLeaseStorage leaseStorage,
        IClusterMembershipService membership,
        ObeliskActivations activations,
        ILogger<ObeliskGrain> logger)
    {
        _lease = lease;
        _options = options.Value;
        _time = time;
        _leaseStorage = leaseStorage;
        _membership = membership;
        _activations = activations;
        _logger = logger;
    }

    private ObeliskOptions Obelisk => _options.Obelisk;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyLong();
        ScarabId.ValidateObeliskId(key);
        _obeliskId = (int)key;

        var path = Path.Combine(Path.GetFullPath(_options.DataDirectory), "obelisk", $"{_obeliskId:D4}.obelisk");
        var reserveBlock = (ulong)Obelisk.ReserveAhead.TotalMilliseconds << ObeliskNode.SequencerUnitShift;
        _sequencer = ObeliskSequencer.Open(path, ObeliskNode.SequencerUnitShift, reserveBlock);
        try
        {
            await TakeLeaseAsync(cancellationToken);
            _activations.Add(GrainContext, _obeliskId);
        }
        catch
        {
            _sequencer.Dispose();
            _sequencer = null;
            throw;
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _activations.Remove(GrainContext);
        if (_holdsLease && _sequencer is not null && !(_leaseStorage.IsVolatile && IsLastSilo()))
        {
            // Release: the next activation need not wait, and starts right above what was really issued here,
            // never below the reservation this activation started from (which covers earlier holders). The last
            // silo of a cluster with in-memory lease storage skips it: the records end with it, and no silo is left
            // to host the storage the write would go to.
            _lease.State.LeaseExpiresUnixMs = 0;
            _lease.State.ReservedUntilMs = WithinFormat(Math.Max(_floorMs, (_sequencer.Peek >> ObeliskNode.SequencerUnitShift) + 1));
            try
            {
                await _lease.WriteStateAsync(cancellationToken);
            }
            catch (Exception e)
            {
                // The lease then simply expires; the next activation waits it out.
                _logger.LogWarning(e, "Obelisk {ObeliskId} could not release its lease on deactivation", _obeliskId);
            }
        }

        _holdsLease = false;
        _sequencer?.Dispose();
        _sequencer = null;
    }

    public async Task<ScarabId> NextAsync() => (await NextBlockAsync(1)).First;

    public async Task<ScarabIdBlock> NextBlockAsync(int count)
    {
        ScarabIdBlock.ValidateCount(count);
        var node = _node ?? throw new InvalidOperationException($"Obelisk {_obeliskId} is not active.");
        var block = await node.NextBlockAsync(count);
        var lastMs = block.Last.Milliseconds;
        if (!_holdsLease || lastMs >= _lease.State.ReservedUntilMs || _time.GetTimestamp() >= _renewAtTimestamp)
        {
            await RenewAsync(lastMs);
        }

        ObeliskInstruments.IdsIssued.Add(count);
        return block;
    }

    public Task<ObeliskStatus> GetStatusAsync() => Task.FromResult(Describe());

    /// <summary>
    /// This activation's status. Also read off the grain's turn by the silo report (<see cref="ObeliskActivations.Describe"/>):
    /// each field is a word written on the grain's turn, so such a read may be a renewal behind, never torn.
    /// </summary>
    internal ObeliskStatus Describe()
    {
        var lease = _lease.State;
        return new ObeliskStatus(
            _obeliskId,
            RuntimeIdentity,
            lease.Fence,
            DateTimeOffset.FromUnixTimeMilliseconds(lease.LeaseExpiresUnixMs),
            ScarabId.Epoch.AddMilliseconds(lease.ReservedUntilMs),
            _node?.Issued ?? 0,
            _leaseWait,
            _leaseWaitReason);
    }

    private async Task TakeLeaseAsync(CancellationToken cancellationToken)
    {
        var lease = _lease.State;
        (_leaseWait, _leaseWaitReason) = LeaseWait(lease);
        if (_leaseWait > TimeSpan.Zero)
        {
            // The holder vanished without releasing (a crashed silo), is still alive (a duplicate activation), or its
            // record may be lost. Wait until it cannot issue any more; if it renews meanwhile, our write below fails.
            _logger.Log(
                lease.Fence == 0 ? LogLevel.Warning : LogLevel.Information,
                "Obelisk {ObeliskId} waits {Wait} before taking its lease: {Reason}",
                _obeliskId, _leaseWait, _leaseWaitReason);
            await WaitAtLeastAsync(_leaseWait, cancellationToken);
        }

        _floorMs = lease.ReservedUntilMs;
        _node = new ObeliskNode(_obeliskId, _sequencer!, _time, Obelisk.MaxClockLead, _floorMs, _logger);
        lease.Fence++;
        lease.Holder = RuntimeIdentity;
        await WriteLeaseAsync(_node.NowMilliseconds);
        _logger.LogInformation(
            "Obelisk {ObeliskId} took the lease with fence {Fence}; IDs start at {FloorMs} ms after the Pyralog epoch",
            _obeliskId, lease.Fence, _node.NowMilliseconds);
    }

    /// <summary>
    /// Waits no less than <paramref name="wait"/> by the monotonic clock. Timers may fire a few milliseconds early (on Linux
    /// they run on the coarse tick), and a lease wait that ends early could overlap the old holder's last lease.
    /// </summary>
    private async Task WaitAtLeastAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        for (var left = wait; left > TimeSpan.Zero; left = wait - _time.GetElapsedTime(started))
        {
            await Task.Delay(left < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : left, _time, cancellationToken);
        }
    }

    /// <summary>How long a newcomer must wait before taking the lease it read, and why (see the design comment).</summary>
    private (TimeSpan Wait, string? Reason) LeaseWait(ObeliskLease lease)
    {
        var longest = Obelisk.LeaseDuration + Obelisk.MaxClockSkew;
        if (lease.LeaseExpiresUnixMs != 0)
        {
            var untilExpiry = TimeSpan.FromMilliseconds(lease.LeaseExpiresUnixMs - _time.GetUtcNow().ToUnixTimeMilliseconds()) + Obelisk.MaxClockSkew;
            var wait = untilExpiry <= TimeSpan.Zero ? TimeSpan.Zero : untilExpiry < longest ? untilExpiry : longest;
            return (wait, wait > TimeSpan.Zero ? $"the lease of fence {lease.Fence} held by '{lease.Holder}' was not released" : null);
        }

        if (lease.Fence == 0 && _leaseStorage.IsVolatile && SiloThatLeft() is { } left)
        {
            return (longest, $"no lease record in volatile (in-memory) lease storage while silo {left} has left the cluster: "
                + "the record may have been lost with it while its holder still runs");
        }

        return (TimeSpan.Zero, null);
    }

    /// <summary>No other silo of the cluster is active (or about to be).</summary>
    private bool IsLastSilo()
    {
        var self = GrainContext.Address.SiloAddress;
        foreach (var member in _membership.CurrentSnapshot.Members.Values)
        {
            if (!member.SiloAddress.Equals(self) && member.Status is SiloStatus.Active or SiloStatus.Joining or SiloStatus.Created)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A silo that left or died since the cluster began (its in-memory records went with it), if any.</summary>
    private string? SiloThatLeft()
    {
        foreach (var member in _membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status is SiloStatus.Dead or SiloStatus.ShuttingDown or SiloStatus.Stopping)
            {
                return $"{member.SiloAddress} ({member.Status})";
            }
        }

        return null;
    }

    private async Task RenewAsync(ulong lastIssuedMs)
    {
        try
        {
            await WriteLeaseAsync(lastIssuedMs);
            ObeliskInstruments.LeaseRenewals.Add(1);
        }
        catch (InconsistentStateException e)
        {
            // A newer activation took over: nothing more may be issued here.
            _holdsLease = false;
            _node = null;
            DeactivateOnIdle();
            throw new InvalidOperationException(
                $"Obelisk {_obeliskId} lost its lease to a newer activation; retry the call to reach it.", e);
        }
    }

    /// <summary>Extends the lease from now and the reservation past both the clock and <paramref name="lastIssuedMs"/>.</summary>
    private async Task WriteLeaseAsync(ulong lastIssuedMs)
    {
        var lease = _lease.State;
        var (previousExpiry, previousReservation) = (lease.LeaseExpiresUnixMs, lease.ReservedUntilMs);
        var durationMs = (ulong)Obelisk.LeaseDuration.TotalMilliseconds;
        var leadMs = (ulong)Obelisk.MaxClockLead.TotalMilliseconds;
        lease.LeaseExpiresUnixMs = _time.GetUtcNow().ToUnixTimeMilliseconds() + (long)durationMs;
        lease.ReservedUntilMs = WithinFormat(Math.Max(
            lease.ReservedUntilMs,
            Math.Max(_node!.NowMilliseconds, lastIssuedMs + 1) + durationMs + leadMs));
        var sentAt = _time.GetTimestamp();
        try
        {
            await _lease.WriteStateAsync();
        }
        catch
        {
            // Only what was written counts: a failed write (storage down, ETag conflict) must not extend the lease
            // this activation believes it holds, or it would issue under a lease no one else can see.
            (lease.LeaseExpiresUnixMs, lease.ReservedUntilMs) = (previousExpiry, previousReservation);
            throw;
        }

        _renewAtTimestamp = sentAt + (long)(Obelisk.LeaseDuration.TotalSeconds / 2 * _time.TimestampFrequency);
        _holdsLease = true;
    }

    /// <summary>
    /// A reservation no higher than one past the format's last millisecond: that already covers every ID there can be,
    /// and a record written higher would be read back by every later activation as a start past the format's end.
    /// </summary>
    private static ulong WithinFormat(ulong reservedUntilMs) => Math.Min(reservedUntilMs, ScarabId.MaxMilliseconds + 1);
}
