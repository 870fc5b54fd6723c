using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>A tiny synchronous harness for unit tests: perfect network, hosts that follow the Ready contract.</summary>
internal sealed class TestCluster
{
    private readonly Dictionary<long, RaftNode> _nodes = [];
    private readonly Queue<Message> _network = new();

    private readonly int _maxInflight;
    private readonly long _maxBytesPerMessage;

    public TestCluster(params long[] ids)
        : this(ids, 64, 1 << 20)
    {
    }

    public TestCluster(long[] ids, int maxInflight, long maxBytesPerMessage)
    {
        _maxInflight = maxInflight;
        _maxBytesPerMessage = maxBytesPerMessage;
        var config = ClusterConfig.Of(ids);
        foreach (var id in ids)
        {
            Storages[id] = MemoryRaftStorage.Bootstrap(config);
            _nodes[id] = NewNode(id, 1, Storages[id], maxInflight, maxBytesPerMessage);
        }
    }

    public Dictionary<long, MemoryRaftStorage> Storages { get; } = [];

    public Dictionary<long, List<LogEntry>> Applied { get; } = [];

    public Dictionary<long, List<ReadState>> Reads { get; } = [];

    /// <summary>Replicas whose incoming messages are dropped.</summary>
    public HashSet<long> Isolated { get; } = [];

    public RaftNode this[long id] => _nodes[id];

    public static RaftNode NewNode(long id, long incarnation, IRaftStorage storage, int maxInflight = 64, long maxBytesPerMessage = 1 << 20) =>
        new(new RaftOptions
        {
            Id = id,
            Incarnation = incarnation,
            Storage = storage,
            Random = new SeededRaftRandom((ulong)(id * 97 + incarnation)),
            MaxInflightMessages = maxInflight,
            MaxBytesPerMessage = maxBytesPerMessage,
        });

    public void Replace(long id, long incarnation, MemoryRaftStorage storage) =>
        Put(id, NewNode(id, incarnation, storage, _maxInflight, _maxBytesPerMessage), storage);

    /// <summary>Makes <paramref name="node"/> (with its disk) the instance that receives replica <paramref name="id"/>'s messages.</summary>
    public void Put(long id, RaftNode node, MemoryRaftStorage storage)
    {
        Storages[id] = storage;
        _nodes[id] = node;
        Applied.Remove(id);
    }

    public RaftNode? Leader => _nodes.Values.Where(n => n.Role == RaftRole.Leader).MaxBy(n => n.Term);

    public RaftNode ElectLeader(int maxTicks = 500)
    {
        for (var t = 0; t < maxTicks; t++)
        {
            TickAll();
            if (Leader is { } leader && leader.CommitIndex == leader.LastIndex)
            {
                return leader;
            }
        }

        throw new InvalidOperationException("no leader elected");
    }

    public void TickAll(int ticks = 1)
    {
        for (var i = 0; i < ticks; i++)
        {
            foreach (var n in _nodes.Values)
            {
                n.Tick();
            }

            Settle();
        }
    }

    /// <summary>Processes Readys and delivers messages until nothing moves.</summary>
    public void Settle()
    {
        for (var rounds = 0; rounds < 10_000; rounds++)
        {
            foreach (var (id, n) in _nodes)
            {
                while (n.HasReady)
                {
                    Handle(id, n);
                }
            }

            if (_network.Count == 0)
            {
                return;
            }

            while (_network.TryDequeue(out var m))
            {
                if (_nodes.TryGetValue(m.To, out var to) && !Isolated.Contains(m.To) && !Isolated.Contains(m.From))
                {
                    to.Step(m);
                }
            }
        }

        throw new InvalidOperationException("cluster does not settle");
    }

    private void Handle(long id, RaftNode n)
    {
        var applied = Applied.TryGetValue(id, out var list) ? list : Applied[id] = [];
        var reads = Reads.TryGetValue(id, out var rl) ? rl : Reads[id] = [];
        foreach (var m in SynchronousHost.HandleReady(n, Storages[id], applied, reads))
        {
            _network.Enqueue(m);
        }
    }
}
