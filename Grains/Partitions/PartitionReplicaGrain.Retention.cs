using Microsoft.Extensions.Logging;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Partitions;

/// <summary>
/// Retention: the leader of a log with a retention age or size checks, on a grain timer every
/// <see cref="PartitionClock.RetentionCheckInterval"/> (and after an append that puts it well over its size limit), where the partition should start
/// (records older than the age by the <see cref="PartitionClock"/>, the oldest entries beyond the size) and proposes
/// a retention command; every replica applies it and compacts its log (PartitionState, ReplicaDriver). At most one
/// such proposal is in flight; a leader that lost its term simply has it fail, and the next leader decides again.
/// </summary>
internal sealed partial class PartitionReplicaGrain
{
    /// <summary>About the most record bytes one retention command drops (each replica replays them to take its snapshot).</summary>
    public const ulong MaxRetentionStepBytes = 256 << 20;

    // Invariant: non-null exactly while the log's settings (known) have a retention age or size and the replica is not deleted.
    private IGrainTimer? _retentionTimer;

    // Invariant: the retention command this activation proposed last, until it resolves or the append timeout passes
    // (at most one in flight, short of a stuck one: a second command is harmless, first offsets never move back).
    private Task<object?>? _retaining;

    /// <summary>Starts checking retention (while this activation lives) once the log's settings ask for it.</summary>
    private void StartRetentionTimer()
    {
        if (_retentionTimer is not null || Deleted || _settings is not ({ RetentionAge: not null } or { RetentionBytes: not null }))
        {
            return;
        }

        var interval = _clock.RetentionCheckInterval;
        _retentionTimer = this.RegisterGrainTimer(
            static (grain, _) =>
            {
                grain.EnforceRetention(afterAppend: false);
                return Task.CompletedTask;
            },
            this,
            new GrainTimerCreationOptions(interval, interval) { Interleave = true, KeepAlive = false });
    }

    /// <summary>
    /// Leader: proposes a retention command when records are older than the retention age or the partition holds
    /// more than the retention bytes (nothing when neither applies, another is in flight, or its term's first entry is
    /// not applied yet: the state must include every earlier leader's records). After an append only the size is
    /// checked, and only once it exceeds the limit by a sixteenth: a partition at its limit would otherwise add a
    /// command and a compaction per append; the timer's check brings it back to the limit itself.
    /// </summary>
    private void EnforceRetention(bool afterAppend)
    {
        if (Deleted || _settings is not { } settings || (settings.RetentionAge is null && settings.RetentionBytes is null) ||
            Driver is not { } driver || _retaining is { IsCompleted: false })
        {
            return;
        }

        var node = driver.Node;
        if (node.Role != Consensus.RaftRole.Leader || _state.Epoch != (ulong)node.Term)
        {
            return;
        }

        if (afterAppend && (settings.RetentionBytes is not { } limit || _state.RetainedBytes <= (ulong)(limit + (limit / 16))))
        {
            return;
        }

        long? cutoff = settings.RetentionAge is { } age && !afterAppend ? _clock.NowMs - (long)age.TotalMilliseconds : null;
        var retainFrom = _state.RetentionPoint(cutoff, settings.RetentionBytes, MaxRetentionStepBytes, out var capped);
        if (retainFrom <= _state.FirstOffset)
        {
            return;
        }

        Task<object?> proposal;
        try
        {
            proposal = driver.ProposeAsync(RetentionCommand.Encode(retainFrom), Key, KeyOf);
        }
        catch (Exception e) when (e is NotLeaderException or InvalidOperationException or ObjectDisposedException)
        {
            return; // the next check (or the next leader) decides again
        }

        Logger.LogDebug("Replica {Key} retains partition {Partition} from offset {Offset} (was {First})", Key, Partition, retainFrom, _state.FirstOffset);
        _retaining = proposal.WaitAsync(Options.Replication.AppendTimeout, Time); // a proposal stuck with a lost term blocks no later check
        _ = ResolveRetentionAsync(_retaining, capped);
    }

    /// <summary>
    /// Observes a retention command's outcome; when the step was capped (it drops at most about
    /// <see cref="MaxRetentionStepBytes"/>), checks again as soon as it is applied.
    /// </summary>
    private async Task ResolveRetentionAsync(Task<object?> proposal, bool capped)
    {
        try
        {
            await proposal.ConfigureAwait(true);
        }
        catch (Exception)
        {
            return; // not committed (deposed, timed out, deactivated): the next check decides again
        }

        if (capped)
        {
            EnforceRetention(afterAppend: false);
        }
    }
}
