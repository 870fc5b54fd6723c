using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Pyralog.Client.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/// <summary>
/// Reads committed records of a log as <see cref="IAsyncEnumerable{T}"/>s. Any replica serves a partition's committed
/// prefix, so the consumer reads from the one it believes leads and fails over to the others when it does not answer;
/// its position (the next offset) is its own, so a failover neither repeats nor skips an offset. At the end of a
/// partition it long-polls (the replica answers when records arrive or after <see cref="ConsumerOptions.MaxWait"/>).
/// <see cref="ConsumeFrom.Earliest"/> starts at the partition's first retained offset; if retention moves it before the
/// first record was delivered, the enumeration starts at the new one. Once records were delivered, a position that
/// retention overtakes fails with the server's message naming the first available offset (nothing is skipped silently).
/// A read of the log's metadata that fails (the metadata group without a leader, its silo lost) is made again after a
/// backoff, as failed replica calls are. An enumeration ends only through its cancellation token, an error, or the end
/// offset it was given. Thread-safe; enumerations are independent.
/// </summary>
public sealed class LogConsumer
{
    private const int MergeCapacity = 1024;

    private readonly CachedLogs _metadata;
    private readonly ConsumerOptions _options;
    private readonly TimeProvider _time;

    /// <summary>A consumer of its own (its own log metadata cache); <see cref="PyralogClient.CreateConsumer"/> shares the client's.</summary>
    public LogConsumer(IGrainFactory grains, ConsumerOptions? options = null, TimeProvider? time = null)
        : this(new CachedLogs(grains ?? throw new ArgumentNullException(nameof(grains)), time ?? TimeProvider.System), options)
    {
    }

    internal LogConsumer(CachedLogs metadata, ConsumerOptions? options)
    {
        options ??= new ConsumerOptions();
        options.Validate();
        _metadata = metadata;
        _options = options;
        _time = metadata.Time;
    }

    /// <summary>The records of one partition from <paramref name="from"/> on, waiting for new ones at the end.</summary>
    /// <exception cref="InvalidOperationException">No log is named <paramref name="log"/>, or it was deleted while being read.</exception>
    /// <exception cref="ArgumentOutOfRangeException">No such partition, or the offset is below the first retained one or beyond the committed end (the message names the bound).</exception>
    public IAsyncEnumerable<ConsumedRecord> ConsumeAsync(string log, int partition, ConsumeFrom from, CancellationToken ct = default) =>
        ConsumeAsync(log, partition, from, end: ulong.MaxValue, ct);

    /// <summary>
    /// The records of one partition from <paramref name="from"/> up to <paramref name="end"/> (not included): the
    /// enumeration ends once its position reaches <paramref name="end"/>, also when it starts there or beyond, and when
    /// retention dropped the records before it (say, <c>end</c> is the committed end read earlier and age retention has
    /// since emptied the partition).
    /// </summary>
    /// <exception cref="InvalidOperationException">No log is named <paramref name="log"/>, or it was deleted while being read.</exception>
    /// <exception cref="ArgumentOutOfRangeException">No such partition, or the offset is below the first retained one or beyond the committed end (the message names the bound).</exception>
    public async IAsyncEnumerable<ConsumedRecord> ConsumeAsync(string log, int partition, ConsumeFrom from, ulong end, [EnumeratorCancellation] CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(from);
        var cached = await LogAsync(log, ct).ConfigureAwait(false);
        if (partition < 0 || partition >= cached.Info.Partitions)
        {
            throw new ArgumentOutOfRangeException(nameof(partition), partition, $"log '{log}' has {cached.Info.Partitions} partitions (0..{cached.Info.Partitions - 1})");
        }

        var reader = new PartitionReader(_metadata, _options, cached, partition);
        var position = await reader.StartAsync(from, ct).ConfigureAwait(false);
        var atEnd = false;
        var delivered = false;
        var tags = ClientInstruments.LogTags(log);
        while (position < end)
        {
            ReadBatch batch;
            try
            {
                batch = await reader.FetchAsync(position, atEnd, ct).ConfigureAwait(false);
            }
            catch (ArgumentOutOfRangeException) when (from is ConsumeFrom.EarliestRecord && !delivered)
            {
                // Retention moved the first retained offset between the start and the first read: earliest is the new one.
                position = await reader.StartAsync(from, ct).ConfigureAwait(false);
                continue;
            }

            foreach (var record in batch.Records)
            {
                if (record.Offset < position)
                {
                    continue; // already delivered (never expected: replicas answer from the offset asked)
                }

                if (record.Offset >= end)
                {
                    yield break;
                }

                ClientInstruments.ConsumedRecords.Add(1, tags);
                yield return new ConsumedRecord(log, partition, record.Epoch, record.Offset, record.Id, record.Key, record.Value, record.Headers, record.AppendTime);
                position = record.Offset + 1;
                delivered = true;
            }

            atEnd = batch.Records.Length == 0 || position >= batch.CommittedNext;
        }
    }

    /// <summary>The records of every partition of the log from <paramref name="from"/> on, interleaved as they arrive (ordered within each partition).</summary>
    /// <exception cref="InvalidOperationException">No log is named <paramref name="log"/>, or it was deleted while being read.</exception>
    public async IAsyncEnumerable<ConsumedRecord> ConsumeAllAsync(string log, ConsumeFrom from, [EnumeratorCancellation] CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(from);
        var cached = await LogAsync(log, ct).ConfigureAwait(false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var merged = Channel.CreateBounded<ConsumedRecord>(new BoundedChannelOptions(MergeCapacity) { SingleReader = true });
        var pumps = new Task[cached.Info.Partitions];
        for (var p = 0; p < pumps.Length; p++)
        {
            pumps[p] = PumpAsync(log, p, from, merged.Writer, stop.Token);
        }

        try
        {
            await foreach (var record in merged.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                yield return record;
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(pumps).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The log's metadata, from the cache or the metadata group: a read that fails as a later one may not (its leader's
    /// silo lost, no leader yet) is made again after a backoff, as failed replica calls are, until <paramref name="ct"/>
    /// is cancelled.
    /// </summary>
    /// <exception cref="InvalidOperationException">No log is named <paramref name="log"/>.</exception>
    private async Task<CachedLog> LogAsync(string log, CancellationToken ct)
    {
        for (var failures = 0; ; failures++)
        {
            if (_metadata.TryGet(log, out var cached))
            {
                return cached;
            }

            CachedLog? read;
            try
            {
                read = await _metadata.FetchAsync(log).WaitAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (CachedLogs.IsTransient(e))
            {
                await Task.Delay(CachedLogs.ReadBackoff(failures), _time, ct).ConfigureAwait(false);
                continue;
            }

            return read ?? throw CachedLogs.Unknown(log);
        }
    }

    private async Task PumpAsync(string log, int partition, ConsumeFrom from, ChannelWriter<ConsumedRecord> into, CancellationToken ct)
    {
        try
        {
            await foreach (var record in ConsumeAsync(log, partition, from, ct).ConfigureAwait(false))
            {
                await into.WriteAsync(record, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // the merged enumeration ended
        }
        catch (Exception e)
        {
            into.TryComplete(e); // the first partition that fails ends the merged enumeration with its error
        }
    }
}
