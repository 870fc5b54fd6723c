using System.Diagnostics;
using Pyralog.Client;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Silo.Tests.Partitions;

/// <summary>
/// Sends appends to the replica a producer believes leads each partition, and learns from the answers: a
/// <see cref="NotLeaderException"/> names the leader (followed at once) or none (an election: try another replica); a
/// timeout or a broken call makes the replica a suspect for a while (its silo may be dead), so a stale hint pointing
/// at it is not followed back into the same wait. Thread-safe; guesses may race, which only costs a retry.
/// </summary>
internal sealed class LeaderRouter
{
    /// <summary>
    /// How long a replica that timed out or failed is avoided when there is another to try. Short: a live leader that
    /// was merely slow once is avoided only this long, however its followers keep naming it.
    /// </summary>
    private static readonly long SuspectTicks = Stopwatch.Frequency;

    /// <summary>Pause before retrying when no replica knows a leader, so an election is not spun against.</summary>
    private static readonly TimeSpan ElectionBackoff = TimeSpan.FromMilliseconds(5);

    private readonly Func<string, IPartitionReplicaGrain> _replicaFor;
    private readonly int[] _leader;
    private readonly long[] _suspectUntil;
    private readonly string[] _keys; // per replica slot (partition × RF + replica): no key string made per append

    /// <param name="replicaFor">The grain of a replica key (<see cref="PyralogClient.Replica"/>: at the silo hosting it, the reference kept).</param>
    public LeaderRouter(Func<string, IPartitionReplicaGrain> replicaFor, LogInfo log)
    {
        _replicaFor = replicaFor;
        Log = log;
        _leader = new int[log.Partitions];
        _suspectUntil = new long[log.Partitions * log.ReplicationFactor];
        _keys = new string[log.Partitions * log.ReplicationFactor];
        for (var partition = 0; partition < log.Partitions; partition++)
        {
            for (var replica = 0; replica < log.ReplicationFactor; replica++)
            {
                _keys[partition * log.ReplicationFactor + replica] = log.ReplicaKey(partition, replica);
            }
        }
    }

    public LogInfo Log { get; }

    public IPartitionReplicaGrain Replica(int partition, int replica) => _replicaFor(_keys[partition * Log.ReplicationFactor + replica]);

    /// <summary>The replica slot currently believed to lead <paramref name="partition"/>.</summary>
    public int Leader(int partition) => Volatile.Read(ref _leader[partition]);

    public void SetLeader(int partition, int replica) => Volatile.Write(ref _leader[partition], replica);

    /// <summary>One append call to the believed leader, bounded by <paramref name="timeout"/>; never throws for the call's failure.</summary>
    public async Task<AppendAttempt> TryAppendAsync(int partition, ProducerRecord[] records, TimeSpan timeout)
    {
        var replica = Leader(partition);
        var key = _keys[partition * Log.ReplicationFactor + replica];
        var started = Stopwatch.GetTimestamp();
        var call = Replica(partition, replica).AppendAsync(records);
        try
        {
            var ack = await call.WaitAsync(timeout).ConfigureAwait(false);
            ClearSuspicion(partition, replica);
            return new AppendAttempt(key, AppendOutcome.Acknowledged, ack, null, started, Stopwatch.GetTimestamp());
        }
        catch (NotLeaderException e)
        {
            ClearSuspicion(partition, replica); // it answered: its silo lives
            var redirected = false;
            var next = NextCandidate(partition, replica);
            if (ReplicaGrainKey.TryParse(e.LeaderReplicaKey, out var hint)
                && hint.Replica != replica && hint.Replica < Log.ReplicationFactor && !IsSuspect(partition, hint.Replica))
            {
                redirected = true;
                next = hint.Replica;
            }

            Move(partition, replica, next);
            return new AppendAttempt(key, AppendOutcome.Refused, null, e, started, Stopwatch.GetTimestamp(), redirected);
        }
        catch (ArgumentException e)
        {
            // The grain refused the batch itself (too large, empty): nothing was appended, and retrying will not help.
            return new AppendAttempt(key, AppendOutcome.Refused, null, e, started, Stopwatch.GetTimestamp());
        }
        catch (Exception e)
        {
            // A timeout, a dead silo, a lost connection: the append may or may not have happened.
            if (!call.IsCompleted)
            {
                _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }

            Volatile.Write(ref _suspectUntil[(partition * Log.ReplicationFactor) + replica], Stopwatch.GetTimestamp() + SuspectTicks);
            Move(partition, replica, NextCandidate(partition, replica));
            return new AppendAttempt(key, AppendOutcome.Unknown, null, e, started, Stopwatch.GetTimestamp());
        }
    }

    /// <summary>
    /// Appends <paramref name="records"/>, retrying other replicas until one acknowledges or <paramref name="deadline"/>
    /// passes (then <see cref="TimeoutException"/>). For benchmarks only: a retried batch of unknown outcome may be
    /// appended twice, which a history check would have to account for.
    /// </summary>
    public async Task<AppendAttempt> AppendAsync(int partition, ProducerRecord[] records, TimeSpan attemptTimeout, TimeSpan deadline, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var attempt = await TryAppendAsync(partition, records, attemptTimeout).ConfigureAwait(false);
            if (attempt.Outcome == AppendOutcome.Acknowledged)
            {
                return attempt;
            }

            if (attempt.Error is ArgumentException)
            {
                throw attempt.Error;
            }

            if (Stopwatch.GetElapsedTime(started) > deadline)
            {
                throw new TimeoutException($"no replica of partition {partition} acknowledged an append within {deadline.TotalSeconds:0.#} s; last: {attempt.Error?.Message}", attempt.Error);
            }

            if (!attempt.Redirected)
            {
                await Task.Delay(ElectionBackoff, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private void ClearSuspicion(int partition, int replica)
    {
        ref var until = ref _suspectUntil[(partition * Log.ReplicationFactor) + replica];
        if (Volatile.Read(ref until) != 0)
        {
            Volatile.Write(ref until, 0);
        }
    }

    private bool IsSuspect(int partition, int replica) =>
        Volatile.Read(ref _suspectUntil[(partition * Log.ReplicationFactor) + replica]) > Stopwatch.GetTimestamp();

    /// <summary>The next slot after <paramref name="from"/> that is not suspect (or simply the next one if all are).</summary>
    private int NextCandidate(int partition, int from)
    {
        var rf = Log.ReplicationFactor;
        for (var step = 1; step < rf; step++)
        {
            var candidate = (from + step) % rf;
            if (!IsSuspect(partition, candidate))
            {
                return candidate;
            }
        }

        return (from + 1) % rf;
    }

    /// <summary>Moves the guess only if no other caller moved it since this one read it.</summary>
    private void Move(int partition, int from, int to) => Interlocked.CompareExchange(ref _leader[partition], to, from);
}
