using Microsoft.Extensions.Logging;
using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// What a replica of a three-voter group whose siblings never answer says in the log: after 20 election timeouts without
/// a leader it warns with what it sees (its election, the voters and incarnations it names, when each sibling was last
/// heard and as which incarnation), and again every 20 timeouts after that; a configuration a leader's message brings is
/// logged with the incarnations it names.
/// </summary>
public sealed class ReplicaDiagnosticLogTests : IAsyncLifetime, IReplicaTransport
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"pyralog-leaderless-{Guid.NewGuid():N}");
    private readonly TurnContext _turns = new();
    private readonly LogRecorder _recorder = new();
    private PyramidStore _store = null!;
    private ReplicaDriver _driver = null!;

    public async Task InitializeAsync()
    {
        _store = PyramidStore.Open(_directory);
        var config = new ClusterConfig([new Member(1, 7), new Member(2, 8), new Member(3, 9)], []);
        _driver = await ReplicaDriverTests.OpenDriverAsync(_store, config, this, _recorder);
    }

    public async Task DisposeAsync()
    {
        _driver.Dispose();
        await _store.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void A_replica_that_knows_no_leader_for_twenty_election_timeouts_says_what_it_sees()
    {
        _turns.Run(() => _driver.Wake("activation"));
        var every = 20 * _driver.Node.ElectionTicks;
        for (var i = 0; i < every - 1; i++)
        {
            _turns.Run(() => _driver.Tick());
            _turns.RunPending();
            if (i == 50)
            {
                // Slot 1 (incarnation 8) refuses the pre-vote; slot 2 is never heard from.
                var refusal = new Message
                {
                    Type = MessageType.PreVoteResponse, To = 1, ToIncarnation = 7, From = 2, FromIncarnation = 8, Term = _driver.Node.Term, Reject = true,
                };
                _turns.Run(() => _driver.Deliver(new RaftEnvelope(1, MessageCodec.Encode([refusal]))));
            }
        }

        Assert.DoesNotContain(_recorder.Lines, l => l.Level == LogLevel.Warning);
        _turns.Run(() => _driver.Tick());
        var warning = Assert.Single(_recorder.Lines, l => l.Level == LogLevel.Warning).Message;
        Assert.StartsWith("Replica 9/0/0 (incarnation 7) has known no leader for 20 election timeouts: PreCandidate in term ", warning);
        Assert.Contains(", voted for 0@0, ", warning);
        Assert.Contains("; voters 0@7, 1@8, 2@9; heard from 1: 149 ticks ago as 8, 2: never", warning);
        Assert.Contains("answers [1:granted", warning); // its own pre-vote

        for (var i = 0; i < every; i++)
        {
            _turns.Run(() => _driver.Tick());
        }

        Assert.Equal(2, _recorder.Lines.Count(l => l.Level == LogLevel.Warning));
        Assert.Contains("has known no leader for 40 election timeouts", _recorder.Lines.Last(l => l.Level == LogLevel.Warning).Message);
    }

    [Fact]
    public void A_new_configuration_is_logged_with_the_incarnations_it_names()
    {
        _turns.Run(() => _driver.Wake("activation"));
        var rejoin = new ClusterConfig([new Member(1, 7), new Member(2, 8)], [new Member(3, 10, AutoPromote: true)]);
        var append = new Message
        {
            Type = MessageType.Append, To = 1, ToIncarnation = 7, From = 2, FromIncarnation = 8, Term = 2, Index = 1, LogTerm = 1, Commit = 1,
            Entries = [new LogEntry(2, 2, EntryType.Config, rejoin.Encode())],
        };
        _turns.Run(() => _driver.Deliver(new RaftEnvelope(2, MessageCodec.Encode([append]))));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); // the entry is logged once its persist completed
        while (!_recorder.Lines.Exists(l => l.Message.Contains("now has voters", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "no configuration change was logged");
            _turns.RunPending();
            Thread.Sleep(1);
        }

        var line = Assert.Single(_recorder.Lines, l => l.Message.Contains("now has voters", StringComparison.Ordinal));
        Assert.Equal((LogLevel.Information, "Replica 9/0/0 (incarnation 7) now has voters [0@7, 1@8] and learners [2@10] (not yet committed)"), line);
    }

    void IReplicaTransport.Send(long toRaftId, RaftEnvelope envelope)
    {
        // Nobody answers.
    }

    void IReplicaTransport.SetTicking(bool on)
    {
    }

    void IReplicaTransport.LeadershipChanged(bool leads) => throw new InvalidOperationException("no replica of this group can lead");

    void IReplicaTransport.Failed(Exception error) => throw new InvalidOperationException("the store failed", error);
}
