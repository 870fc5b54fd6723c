using System.Buffers.Binary;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Tests.Hosting;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>
/// Partitions on silos whose stores may keep only two segments mapped (<c>Pyralog:Store:MaxMappedSegments</c>) and
/// flush every 64 KiB: appends, Raft's own reads of its log, flushes, compactions and every replica's reads all go
/// through segments the limit keeps unmapping, and every replica still reads exactly what was acknowledged.
/// Own cluster (its store options differ).
/// </summary>
public sealed class MappedSegmentLimitTests : IAsyncLifetime
{
    private const int Limit = 2, Partitions = 2, Batches = 40, RecordsPerBatch = 16, ValueBytes = 1024;
    private readonly Fixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    private static byte[] Value(int partition, int index)
    {
        var value = new byte[ValueBytes];
        BinaryPrimitives.WriteInt32LittleEndian(value, partition);
        BinaryPrimitives.WriteInt32LittleEndian(value.AsSpan(4), index);
        value.AsSpan(8).Fill((byte)(index * 31 + partition));
        return value;
    }

    [Fact]
    public async Task Every_replica_reads_what_was_acknowledged_while_its_store_keeps_two_segments_mapped()
    {
        var grains = _fixture.Cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync("mapped-limit", Partitions, 3);
        for (var partition = 0; partition < Partitions; partition++)
        {
            var leader = await PartitionCalls.LeaderAsync(grains, log, partition);
            for (var batch = 0; batch < Batches; batch++)
            {
                var records = new ProducerRecord[RecordsPerBatch];
                for (var i = 0; i < records.Length; i++)
                {
                    records[i] = new ProducerRecord(null, Value(partition, (batch * RecordsPerBatch) + i));
                }

                var ack = await leader.AppendAsync(records);
                Assert.Equal((ulong)(batch * RecordsPerBatch), ack.FirstOffset);
            }
        }

        const int total = Batches * RecordsPerBatch;
        for (var partition = 0; partition < Partitions; partition++)
        {
            for (var replica = 0; replica < 3; replica++)
            {
                var grain = grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(partition, replica));
                var records = await PartitionCalls.ReadAllAsync(grain, total);
                Assert.Equal(total, records.Count);
                for (var i = 0; i < total; i++)
                {
                    Assert.Equal((ulong)i, records[i].Offset);
                    Assert.Equal(Value(partition, i), records[i].Value);
                }
            }
        }

        var stores = _fixture.Cluster.Silos.Select(s => ((InProcessSiloHandle)s).SiloHost.Services.GetRequiredService<SiloStore>().Store).ToArray();
        var statistics = stores.Select(s => s.GetStatistics()).ToArray();
        Assert.All(statistics, s => Assert.Equal(Limit, s.MappedSegmentLimit));
        Assert.All(statistics, s => Assert.True(s.Levels.Sum(l => l.Segments) > Limit, $"a store of {s.Levels.Sum(l => l.Segments)} segments does not test a limit of {Limit}"));
        Assert.All(statistics, s => Assert.True(s.SegmentRemaps > 0, "no read mapped a segment again"));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (stores.Any(s => s.GetStatistics().MappedSegments > Limit))
        {
            Assert.True(DateTime.UtcNow < deadline, $"mapped segments stayed above {Limit}: {string.Join(", ", stores.Select(s => s.GetStatistics().MappedSegments))}");
            await Task.Delay(50); // a flush or compaction in flight maps its output before the limit unmaps another
        }
    }

    private sealed class Fixture() : PyralogClusterFixture(3)
    {
        protected override void Configure(TestClusterBuilder builder) => builder.AddSiloBuilderConfigurator<StoreConfigurator>();
    }

    private sealed class StoreConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) =>
            siloBuilder.Services.PostConfigure<PyralogOptions>(o => o.Store = new PyramidOptions { MaxMappedSegments = Limit, MemtableBytes = 64 << 10 });
    }
}
