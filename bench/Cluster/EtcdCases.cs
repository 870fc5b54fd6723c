using System.Diagnostics;
using System.Globalization;
using System.Text;
using Etcdserverpb;
using Google.Protobuf;
using Pyralog.Bench.Harness;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// etcd's side of the suite: three members, one key per record (<c>r/</c> + a 12-digit record number; a 100 B value),
/// each record one Put (etcd has no batch put outside a transaction, and a log producer issues independent records).
/// Puts go to the leader's member (no forwarding hop), as the other systems are driven at their leaders.
/// </summary>
internal static class EtcdCases
{
    public const string System = "etcd";
    private const string Prefix = "r/";
    private const string PrefixEnd = "r0"; // '/' + 1

    public static async Task RunAsync(BenchReport report, string root, string binary, CancellationToken cancellationToken)
    {
        using var cluster = await EtcdCluster.StartAsync(root, binary, cancellationToken);
        var leader = await cluster.LeaderAsync(cancellationToken);
        ClusterSettings.Log($"etcd: 3 members up ({EtcdCluster.Flags}), leader {EtcdCluster.MemberName(leader)}");
        var value = ByteString.CopyFrom(ClusterSettings.Payload());
        var client = cluster.Client(leader);

        Task Put(long n) =>
            client.PutAsync(new PutRequest { Key = Key(Prefix, n), Value = value }, cancellationToken: cancellationToken);

        await ClusterReport.RunCaseAsync(report, "produce-100B-window", System, async () =>
        {
            var result = await LoadDriver.RunAsync(ClusterSettings.Window, ClusterSettings.Warmup, ClusterSettings.WindowMeasure, Put, () => cluster.ProcessIds, cancellationToken);
            ClusterReport.Produce(report, "produce-100B-window", System, result, withThroughput: true);
        });

        // The sync case writes keys after the window's (its numbers start far above them), so consume reads both.
        await ClusterReport.RunCaseAsync(report, "produce-100B-sync", System, async () =>
        {
            var result = await LoadDriver.RunAsync(1, ClusterSettings.Warmup, ClusterSettings.SyncMeasure, n => Put(100_000_000_000 + n), () => cluster.ProcessIds, cancellationToken);
            ClusterReport.Produce(report, "produce-100B-sync", System, result, withThroughput: false);
        });
        await ClusterReport.RunCaseAsync(report, "consume-100B", System, () => ConsumeAsync(report, cluster, cancellationToken));
        await ClusterReport.RunCaseAsync(report, "failover", System, () => FailoverAsync(report, cluster, value, cancellationToken));
    }

    private static ByteString Key(string prefix, long n) =>
        ByteString.CopyFrom(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{prefix}{n:D12}")));

    /// <summary>
    /// Range reads over the <c>r/</c> prefix in key order, <see cref="ClusterSettings.ReadPage"/> keys a page
    /// (linearizable, etcd's default), at the leader, one page in flight, until the prefix is exhausted.
    /// </summary>
    private static async Task ConsumeAsync(BenchReport report, EtcdCluster cluster, CancellationToken cancellationToken)
    {
        var leader = cluster.Client(await cluster.LeaderAsync(cancellationToken));
        var expected = (await leader.GetAsync(new RangeRequest
        {
            Key = ByteString.CopyFromUtf8(Prefix),
            RangeEnd = ByteString.CopyFromUtf8(PrefixEnd),
            CountOnly = true,
        }, cancellationToken: cancellationToken)).Count;

        long records = 0, bytes = 0;
        var from = ByteString.CopyFromUtf8(Prefix);
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < ClusterSettings.ConsumeBudget)
        {
            var page = await leader.GetAsync(new RangeRequest { Key = from, RangeEnd = ByteString.CopyFromUtf8(PrefixEnd), Limit = ClusterSettings.ReadPage },
                cancellationToken: cancellationToken);
            foreach (var kv in page.Kvs)
            {
                bytes += kv.Value.Length;
            }

            records += page.Kvs.Count;
            if (!page.More || page.Kvs.Count == 0)
            {
                break;
            }

            // The next page starts right after the last key read.
            var last = page.Kvs[^1].Key.ToByteArray();
            from = ByteString.CopyFrom([.. last, 0]);
        }

        var elapsed = watch.Elapsed;
        if (bytes != records * ClusterSettings.RecordBytes)
        {
            ClusterSettings.Log($"etcd consume: {bytes} bytes in {records} values, not {ClusterSettings.RecordBytes} B each");
        }

        ClusterReport.Consume(report, "consume-100B", System, records, elapsed, expected);
    }

    /// <summary>
    /// Trials of <see cref="FailoverProbe"/>: the producer holds a client per member and puts on one; an attempt that
    /// fails or is not acknowledged within the attempt timeout moves to the next member (a follower forwards to the new
    /// leader once there is one). The leader (status API) is killed, then started again on its data, and every member
    /// is healthy again before the next trial.
    /// </summary>
    private static async Task FailoverAsync(BenchReport report, EtcdCluster cluster, ByteString value, CancellationToken cancellationToken)
    {
        var trials = new List<double>();
        var failed = 0;
        long sequence = 0;
        for (var trial = 0; trial < ClusterSettings.FailoverTrials; trial++)
        {
            await cluster.WaitHealthyAsync(cancellationToken);
            var victim = await cluster.LeaderAsync(cancellationToken);
            var current = victim;
            async Task<bool> Attempt()
            {
                var member = Volatile.Read(ref current);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(ClusterSettings.AttemptTimeout);
                try
                {
                    await cluster.Client(member).PutAsync(new PutRequest { Key = Key("f/", Interlocked.Increment(ref sequence)), Value = value },
                        deadline: DateTime.UtcNow + ClusterSettings.AttemptTimeout, cancellationToken: timeout.Token);
                    return true;
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    Interlocked.CompareExchange(ref current, (member + 1) % EtcdCluster.Size, member);
                    return false;
                }
            }

            try
            {
                var ms = await FailoverProbe.TrialAsync(Attempt, () => cluster.Kill(victim), cancellationToken);
                trials.Add(ms);
                ClusterSettings.Log($"etcd failover trial {trial + 1}: SIGKILL {EtcdCluster.MemberName(victim)} (leader) -> first put acknowledged after {ms:0} ms");
            }
            catch (TimeoutException e)
            {
                ClusterSettings.Log($"etcd failover trial {trial + 1}: SIGKILL {EtcdCluster.MemberName(victim)} FAILED: {e.Message}\n{cluster.OutputTail(victim)}");
                failed++;
            }
            finally
            {
                cluster.Restart(victim);
            }
        }

        await cluster.WaitHealthyAsync(cancellationToken);
        ClusterReport.Failover(report, "failover", System, trials, failed);
    }
}
