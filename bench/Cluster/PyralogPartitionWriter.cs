using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// An idempotent producer's path to one partition through the grain interfaces: sends <see cref="ProducerBatch"/>es to
/// the replica it believes leads and learns from the answers (<see cref="NotLeaderException.LeaderReplicaKey"/> is
/// followed at once; a timeout or a broken call moves to the next replica). A batch is always sent again with its own
/// sequence, so an attempt of unknown outcome that did commit is answered as a duplicate, never appended twice. This is
/// what <c>Pyralog.Client.Logs.LogProducer</c> does for an application; the bench's grain path
/// (<c>PYRALOG_BENCH_PATH=grains</c>) drives the grains with it, to tell the client's cost from the grains'.
/// </summary>
internal sealed class PyralogPartitionWriter
{
    private readonly IGrainFactory _grains;
    private readonly LogInfo _log;
    private readonly int _partition;
    private int _leader;

    public PyralogPartitionWriter(IGrainFactory grains, LogInfo log, int partition, int leaderGuess)
    {
        _grains = grains;
        _log = log;
        _partition = partition;
        _leader = leaderGuess;

        // Any id but 0 will do for the grain; the client library takes a Scarab ID once per producer.
        ProducerId = Random.Shared.NextInt64(1, long.MaxValue);
    }

    public long ProducerId { get; }

    /// <summary>One call to the believed leader, bounded by <paramref name="timeout"/>: the acknowledgement, or null (refused, timed out, failed: send again).</summary>
    /// <exception cref="ArgumentException">The batch was refused as such; sending it again will not help.</exception>
    /// <exception cref="ProducerSequenceException">Too old to tell its outcome (<see cref="ProducerSequenceException.TooOld"/>).</exception>
    public async Task<AppendAck?> TrySendAsync(ProducerBatch batch, TimeSpan timeout)
    {
        var replica = Volatile.Read(ref _leader);
        var call = _grains.GetGrain<IPartitionReplicaGrain>(_log.ReplicaKey(_partition, replica)).ProduceAsync(batch);
        try
        {
            return await call.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (NotLeaderException e)
        {
            var next = _log.NextReplica(_partition, replica);
            if (ReplicaGrainKey.TryParse(e.LeaderReplicaKey, out var hint) && hint.Replica != replica && _log.HasReplica(_partition, hint.Replica))
            {
                next = hint.Replica;
            }
            else
            {
                await Task.Delay(TimeSpan.FromMilliseconds(2)).ConfigureAwait(false); // an election runs
            }

            Interlocked.CompareExchange(ref _leader, next, replica);
            return null;
        }
        catch (ProducerSequenceException e) when (!e.TooOld)
        {
            // An earlier batch of this producer has not arrived yet (calls in flight may overtake each other; before its
            // first batch arrived the partition does not know the producer, UnknownProducer): again shortly.
            await Task.Delay(TimeSpan.FromMilliseconds(1)).ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is not ArgumentException and not ProducerSequenceException)
        {
            // A timeout, a dead silo, a lost connection: the outcome is unknown; the same batch goes to the next replica.
            if (!call.IsCompleted)
            {
                _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }

            Interlocked.CompareExchange(ref _leader, _log.NextReplica(_partition, replica), replica);
            return null;
        }
    }

    /// <summary>Sends the batch until a replica acknowledges it or <paramref name="deadline"/> passes (<see cref="TimeoutException"/>).</summary>
    public async Task<AppendAck> SendAsync(ProducerBatch batch, TimeSpan attemptTimeout, TimeSpan deadline)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            if (await TrySendAsync(batch, attemptTimeout).ConfigureAwait(false) is { } ack)
            {
                return ack;
            }

            if (System.Diagnostics.Stopwatch.GetElapsedTime(started) > deadline)
            {
                throw new TimeoutException($"no replica of partition {_partition} of '{_log.Name}' acknowledged batch {batch.FirstSequence} within {deadline.TotalSeconds:0} s");
            }
        }
    }
}
