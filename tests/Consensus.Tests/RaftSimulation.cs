using System.Globalization;
using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>
/// Deterministic simulation of one Raft group. Everything random (delays, drops, duplicates, reordering,
/// partitions, crashes, wipes, second incarnations, membership changes, transfers, client operations, nodes'
/// election timeouts) is drawn from generators seeded by <c>seed</c>, so a run replays exactly from its seed.
///
/// Each tick: maybe inject a fault, tick every live node, deliver due messages in random order, let clients act,
/// then check the <see cref="SafetyMonitor"/> invariants. Hosts follow the asynchronous Ready contract: a Ready's
/// <see cref="PersistBatch"/> joins the instance's queue of writes in flight and completes later (each seed draws how
/// far writes lag behind steps), while the node keeps stepping and ticking; a completed batch is acknowledged with
/// <see cref="RaftNode.Persisted"/> and only then are its after-persist messages sent. A crash loses every write in
/// flight, and may tear the oldest one (its snapshot, a prefix of its entries, or everything but its hard state made
/// it), and a write can fail the same way, stopping the replica. After <see cref="SimOptions.FaultTicks"/> all faults
/// heal and within <see cref="SimOptions.HealTicks"/> a leader must commit a fresh proposal with every replica a
/// voter again, a leader transfer must complete and reads at the leader and a follower must be answered; finally the
/// client history must be linearizable.
/// </summary>
public sealed class RaftSimulation
{
    private readonly SimOptions _o;
    private readonly long _seed;
    private readonly SeededRaftRandom _rng;
    private readonly SimInstance?[] _current;
    private readonly SimInstance?[] _zombie;
    private readonly long[] _zombieUntil;
    private readonly long[] _downUntil;
    private readonly long[] _incarnations;
    private readonly int[] _boots;
    private readonly bool[,] _blocked;
    private readonly List<InFlightMessage> _network = [];
    private readonly List<InFlightMessage> _due = [];
    private readonly List<string> _schedule = [];
    private readonly SafetyMonitor _monitor = new();
    private readonly List<ClientOp> _history = [];
    private readonly SimClient[] _clients;
    private readonly HashSet<long> _removed = [];
    private long _now;
    private long _clock;
    private long _nextOpId;
    private double _dropRate;
    private readonly double _faultRate;

    // Per seed: the chance, at each opportunity (after every input and every tick), that the oldest write in flight
    // completes; 1 means writes finish right after the input that caused them.
    private readonly double _persistRate;
    private readonly bool _preVote;
    private readonly bool _checkQuorum;
    private readonly bool _autoMembership;
    private long _livenessReadContext;
    private bool _faultsOn = true;
    private int _livenessReadsDone;
    private int _wipes;

    private static readonly double[] PersistRates = [1, 0.7, 0.4];

    private RaftSimulation(long seed, SimOptions options)
    {
        _o = options;
        _seed = seed;
        _rng = new SeededRaftRandom((ulong)seed);
        var n = options.Nodes;
        _current = new SimInstance?[n + 1];
        _zombie = new SimInstance?[n + 1];
        _zombieUntil = new long[n + 1];
        _downUntil = new long[n + 1];
        _incarnations = new long[n + 1];
        _boots = new int[n + 1];
        _blocked = new bool[n + 1, n + 1];
        _dropRate = options.DropRate;
        _faultRate = options.FaultRate * (0.2 + _rng.Next(1600) / 1000.0);
        _persistRate = PersistRates[_rng.Next(PersistRates.Length)];
        (_preVote, _checkQuorum, _autoMembership) = options.VaryProtocol ? (_rng.Next(2) == 0, _rng.Next(2) == 0, _rng.Next(2) == 0) : (true, true, true);
        var ids = new long[n];
        for (var i = 0; i < n; i++)
        {
            ids[i] = i + 1;
        }

        var config = ClusterConfig.Of(ids);
        for (var id = 1; id <= n; id++)
        {
            _incarnations[id] = 1;
            _current[id] = Boot(id, 1, MemoryRaftStorage.Bootstrap(config));
        }

        _clients = new SimClient[options.Clients];
        for (var i = 0; i < _clients.Length; i++)
        {
            _clients[i] = new SimClient { LeaderGuess = 1 + _rng.Next(n) };
        }
    }

    public static SimResult Run(long seed, SimOptions options)
    {
        var sim = new RaftSimulation(seed, options);
        string? failure = null;
        try
        {
            sim.RunAll();
        }
        catch (SimulationFailure f)
        {
            failure = $"t={sim._now}: {f.Message}";
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException or NullReferenceException or KeyNotFoundException)
        {
            failure = $"t={sim._now}: node threw {e}";
        }

        return new SimResult(seed, options, failure, sim._schedule, sim._monitor.CommittedIndex, sim._history.Count);
    }

    private void RunAll()
    {
        Log(string.Create(CultureInfo.InvariantCulture, $"persist rate {_persistRate}, pre-vote {_preVote}, check-quorum {_checkQuorum}, auto-membership {_autoMembership}"));
        for (var t = 0; t < _o.FaultTicks; t++)
        {
            Step(faults: true);
        }

        Heal();
        _faultsOn = false;
        long markerIndex = 0, markerTerm = 0;
        SimInstance? markerAt = null;
        for (var t = 0; ; t++)
        {
            if (t >= _o.HealTicks)
            {
                throw new SimulationFailure($"no progress {_o.HealTicks} ticks after the faults healed (marker {markerIndex}/t{markerTerm}, leader {FindLeader()?.Name}, configuration {FindLeader()?.Node.Config}); nodes: {NodeStates()}");
            }

            Step(faults: false);
            var leader = FindLeader();
            if (markerIndex > 0 && _monitor.CommittedIndex >= markerIndex && _monitor.CommittedAt(markerIndex).Term == markerTerm &&
                leader is not null && AllRejoined(leader))
            {
                Log($"marker {markerIndex} committed, configuration {leader.Node.Config}");
                break;
            }

            if (leader is not null && (markerAt != leader || markerTerm != leader.Node.Term))
            {
                var r = leader.Node.Propose(KvStateMachine.EncodePut(++_nextOpId, 255, -1));
                if (r.Accepted)
                {
                    markerIndex = r.FirstIndex;
                    markerTerm = r.Term;
                    markerAt = leader;
                    Drain(leader);
                }
            }
        }

        FinishTransfer();
        FinishReads();
        foreach (var c in _clients)
        {
            Abandon(c);
        }

        var error = LinearizabilityChecker.Check(_history);
        if (error is not null)
        {
            throw new SimulationFailure(error);
        }
    }

    /// <summary>After healing, a leader transfer to another voter must complete (re-asked if the leader aborts it).</summary>
    private void FinishTransfer()
    {
        var leader = FindLeader();
        if (leader is null || leader.Node.Config.Voters.Count < 2)
        {
            return;
        }

        var voters = leader.Node.Config.Voters;
        var target = voters[_rng.Next(voters.Count)].Id;
        target = target == leader.Id ? voters[(IndexOf(voters, target) + 1) % voters.Count].Id : target;
        Log($"liveness: transfer {leader.Name} -> {target}");
        for (var t = 0; ; t++)
        {
            if (t >= _o.HealTicks)
            {
                throw new SimulationFailure($"leader transfer to {target} did not complete {_o.HealTicks} ticks after healing (leader {FindLeader()?.Name}); nodes: {NodeStates()}");
            }

            leader = FindLeader();
            if (leader?.Id == target)
            {
                Log($"liveness: {leader.Name} leads after the transfer");
                return;
            }

            if (leader is not null && leader.Node.Config.Voters.Count >= 2 && !leader.Node.Config.Voters.Any(v => v.Id == target))
            {
                // The target was a voter only in the configuration of a leader that lost its term before that entry
                // committed; with auto-membership off no one promotes it again, and a transfer goes to voters only.
                voters = leader.Node.Config.Voters;
                target = voters[_rng.Next(voters.Count)].Id;
                target = target == leader.Id ? voters[(IndexOf(voters, target) + 1) % voters.Count].Id : target;
                Log($"liveness: the target is no longer a voter; transfer {leader.Name} -> {target}");
            }

            if (leader is not null && leader.Node.LeadTransferee == 0 && t % (3 * _o.ElectionTicks) == 0)
            {
                leader.Node.TransferLeadership(target);
                Drain(leader);
            }

            Step(faults: false);
        }
    }

    /// <summary>After healing, a read at the leader and a read through a follower must both be answered.</summary>
    private void FinishReads()
    {
        for (var t = 0; ; t++)
        {
            if (t >= _o.HealTicks)
            {
                throw new SimulationFailure($"liveness: reads not answered {_o.HealTicks} ticks after healing ({_livenessReadsDone} of 2); nodes: {NodeStates()}");
            }

            var leader = FindLeader();
            if (t % (3 * _o.ElectionTicks) == 0 && leader is not null)
            {
                _livenessReadsDone = 0;
                _livenessReadContext = -(++_nextOpId);
                leader.Node.ReadIndex(_livenessReadContext);
                Drain(leader);
                var follower = _current[1 + (leader.Id % _o.Nodes)]!;
                if (follower == leader || follower.Node.ReadIndex(_livenessReadContext).Status != ProposeStatus.Accepted)
                {
                    _livenessReadsDone++;
                }

                Drain(follower);
            }

            if (_livenessReadsDone >= 2)
            {
                Log("liveness: reads answered");
                return;
            }

            Step(faults: false);
        }
    }

    private static int IndexOf(IReadOnlyList<Member> members, long id)
    {
        for (var i = 0; i < members.Count; i++)
        {
            if (members[i].Id == id)
            {
                return i;
            }
        }

        return -1;
    }

    // ---------------------------------------------------------------- the tick

    private void Step(bool faults)
    {
        _now++;
        if (faults && Chance(_faultRate))
        {
            InjectFault();
        }

        for (var id = 1; id <= _o.Nodes; id++)
        {
            if (_current[id] is { Alive: false } && _downUntil[id] <= _now)
            {
                Restart(id);
            }

            if (_zombie[id] is { } z && (_zombieUntil[id] <= _now || !z.Alive))
            {
                if (z.Alive)
                {
                    Log($"zombie {z.Name} ends");
                }

                z.Alive = false;
                _zombie[id] = null;
            }
        }

        for (var id = 1; id <= _o.Nodes; id++)
        {
            TickInstance(_current[id]);
            TickInstance(_zombie[id]);
        }

        DeliverDue();
        foreach (var c in _clients)
        {
            StepClient(c);
        }

        for (var id = 1; id <= _o.Nodes; id++)
        {
            Observe(_current[id]);
            Observe(_zombie[id]);
        }
    }

    private void TickInstance(SimInstance? inst)
    {
        if (inst is { Alive: true } && !Chance(0.05))
        {
            inst.Node.Tick();
            Drain(inst);
        }
    }

    private void Observe(SimInstance? inst)
    {
        if (inst is { Alive: true })
        {
            var wasLeaderTerm = inst.Node.Role == RaftRole.Leader ? inst.Node.Term : 0;
            _monitor.ObserveRole(inst.Node);
            SafetyMonitor.ObserveLeaderDurable(inst.Node, inst.Storage);
            if (wasLeaderTerm > 0 && inst.LeaderLogged != wasLeaderTerm)
            {
                inst.LeaderLogged = wasLeaderTerm;
                Log($"leader {inst.Name} term {wasLeaderTerm} {inst.Node.Config}");
                if (_faultsOn && _o.Membership && Chance(0.3))
                {
                    // A change right after the election, before the new leader committed anything of its term:
                    // the node (not the harness) must refuse it.
                    ChangeMembership(eager: true);
                }
            }
        }
    }

    // ---------------------------------------------------------------- network

    private void DeliverDue()
    {
        _due.Clear();
        var kept = 0;
        for (var i = 0; i < _network.Count; i++)
        {
            if (_network[i].DeliverAt <= _now)
            {
                _due.Add(_network[i]);
            }
            else
            {
                _network[kept++] = _network[i];
            }
        }

        _network.RemoveRange(kept, _network.Count - kept);
        for (var i = _due.Count - 1; i > 0; i--)
        {
            var j = _rng.Next(i + 1);
            (_due[i], _due[j]) = (_due[j], _due[i]);
        }

        foreach (var f in _due)
        {
            Deliver(f.Message);
        }

        for (var id = 1; id <= _o.Nodes; id++)
        {
            foreach (var inst in (ReadOnlySpan<SimInstance?>)[_current[id], _zombie[id]])
            {
                if (inst is { Alive: true })
                {
                    Drain(inst);
                }
            }
        }
    }

    private void Deliver(Message m)
    {
        if (_blocked[m.From, m.To])
        {
            return;
        }

        var current = _current[m.To] is { Alive: true } c ? c : null;
        var zombie = _zombie[m.To] is { Alive: true } z ? z : null;
        if (current is not null && zombie is not null)
        {
            var pick = _rng.Next(5);
            if (pick == 0)
            {
                StepInstance(current, m);
                StepInstance(zombie, m);
                return;
            }

            StepInstance(pick <= 2 ? current : zombie, m);
            return;
        }

        if ((current ?? zombie) is { } target)
        {
            StepInstance(target, m);
        }
    }

    /// <summary>
    /// Delivers one message. The host does not always handle the Ready at once: with the seed's lag several
    /// messages are stepped before the next Ready is cut, so a later message can overwrite entries (and overtake
    /// acknowledgements) that no batch carries yet. Every instance is drained at the end of the tick.
    /// </summary>
    private void StepInstance(SimInstance inst, Message m)
    {
        inst.Node.Step(m);
        if (Chance(_persistRate))
        {
            Drain(inst);
        }
    }

    private void Send(Message m)
    {
        if (m.To < 1 || m.To > _o.Nodes)
        {
            return;
        }

        if (_blocked[m.From, m.To] || Chance(_dropRate))
        {
            return;
        }

        _network.Add(new InFlightMessage(m, _now + _rng.Next(_o.MaxDelay + 1)));
        if (Chance(_o.DuplicateRate))
        {
            _network.Add(new InFlightMessage(m, _now + _rng.Next(_o.MaxDelay + 3)));
        }
    }

    // ---------------------------------------------------------------- the host side of Ready

    /// <summary>Handles Readys and completes writes in flight (each with the seed's chance) until neither moves.</summary>
    private void Drain(SimInstance inst)
    {
        while (inst.Alive)
        {
            if (inst.Node.HasReady)
            {
                ProcessReady(inst);
            }
            else if (inst.InFlight.Count > 0 && Chance(_persistRate))
            {
                // One disk flush covers a random prefix of the queue (a host syncs what was written so far).
                for (var n = 1 + _rng.Next(inst.InFlight.Count); n > 0 && inst.Alive && inst.InFlight.Count > 0; n--)
                {
                    CompleteWrite(inst);
                }
            }
            else
            {
                break;
            }
        }

        Observe(inst);
    }

    private void ProcessReady(SimInstance inst)
    {
        var node = inst.Node;
        var r = node.GetReady();
        if (inst.CrashAtReady == 1)
        {
            Crash(inst, "before persisting its Ready");
            return;
        }

        if (r.ToPersist is { } batch)
        {
            inst.InFlight.Enqueue(batch);
        }

        foreach (var m in r.Messages)
        {
            SafetyMonitor.ObserveSend(node, inst.Storage, m);
            Send(m);
        }

        foreach (ref readonly var e in r.CommittedEntries)
        {
            _monitor.ObserveApply(node, e);
            SafetyMonitor.ObserveApplyDurable(node, inst.Storage, e);
            inst.Kv.Apply(e);
            CompletePuts(inst, e);
        }

        inst.PendingReads.AddRange(r.ReadStates);
        foreach (var rs in r.ReadStates)
        {
            if (rs.Context == _livenessReadContext && _livenessReadContext != 0 && !rs.Refused)
            {
                _livenessReadsDone++;
            }
        }

        node.Advance();
        CompleteReads(inst);
        var applied = node.AppliedIndex;
        if (applied - node.SnapshotIndex >= _o.CompactEvery && inst.Kv.Applied == applied)
        {
            inst.Storage.Compact(node.CreateSnapshot(applied, inst.Kv.Encode()));
        }
    }

    /// <summary>The oldest write in flight reaches the disk: acknowledge it, then send what waited for it.</summary>
    private void CompleteWrite(SimInstance inst)
    {
        var batch = inst.InFlight.Dequeue();
        if (inst.FailNextWrite)
        {
            inst.FailNextWrite = false;
            var torn = TearWrite(inst, batch);
            Crash(inst, $"write fails ({torn}); the replica stops");
            return;
        }

        Write(inst, batch, batch.Entries.Length, hardState: true);
        if (inst.CrashAtReady == 2)
        {
            Crash(inst, "after persisting, before acknowledging");
            return;
        }

        if (batch.Snapshot is { } snapshot)
        {
            inst.Kv.Restore(snapshot);
        }

        inst.Node.Persisted(batch.Mark);
        foreach (var m in batch.MessagesAfterPersist)
        {
            SafetyMonitor.ObserveSend(inst.Node, inst.Storage, m);
            Send(m);
        }
    }

    /// <summary>Writes the batch in the contract's order, the first <paramref name="entries"/> entries only and the hard state if asked.</summary>
    private void Write(SimInstance inst, PersistBatch batch, int entries, bool hardState)
    {
        var node = inst.Node;
        if (batch.Snapshot is { } snapshot)
        {
            _monitor.ObserveSnapshot(node, snapshot);
            Log($"{inst.Name} installs snapshot {snapshot.Index}/t{snapshot.Term}");
            inst.Storage.InstallSnapshot(snapshot);
        }

        if (entries > 0)
        {
            var span = batch.Entries.AsSpan(0, entries);
            _monitor.ObservePersist(node, span, inst.Storage.Metadata.Term(span[0].Index - 1));
            inst.Storage.Append(span);
        }

        if (hardState && batch.HardStateChanged)
        {
            var before = inst.Storage.HardState.Commit;
            inst.Storage.SetHardState(batch.HardState);
            if (batch.HardState.Commit > before)
            {
                _monitor.ObserveCommit(node, batch.HardState.Commit);
            }
        }
    }

    /// <summary>A write cut short: its snapshot and a prefix of its entries (possibly all, possibly none) made it, its hard state did not.</summary>
    private string TearWrite(SimInstance inst, PersistBatch batch)
    {
        var entries = _rng.Next(batch.Entries.Length + 1);
        var hardState = entries == batch.Entries.Length && _rng.Next(2) == 0;
        Write(inst, batch, entries, hardState);
        return $"{entries} of {batch.Entries.Length} entries{(hardState ? " and the hard state" : "")} written";
    }

    // ---------------------------------------------------------------- faults

    private void InjectFault()
    {
        switch (_rng.Next(12))
        {
            case 0 when _o.Partitions:
                PartitionSymmetric();
                break;
            case 1 when _o.Partitions:
                {
                    var a = RandomId();
                    for (var b = 1; b <= _o.Nodes; b++)
                    {
                        _blocked[b, a] = b != a;
                    }

                    Log($"asymmetric partition: {a} receives nothing");
                    break;
                }

            case 2 when _o.Partitions:
                {
                    var a = RandomId();
                    var b = RandomId();
                    if (a != b)
                    {
                        _blocked[a, b] = true;
                        Log($"one-way partition: {a} -> {b} cut");
                    }

                    break;
                }

            case 3 or 4 when _o.Partitions:
                Array.Clear(_blocked);
                Log("partitions healed");
                break;
            case 5 or 6 when _o.Crashes:
                {
                    // Leaders are the interesting victims: half of the crashes hit the current leader.
                    var id = Chance(0.5) && FindLeader() is { } leader ? leader.Id : RandomId();
                    if (_current[id] is { Alive: true } inst && DownCount() < (_o.Nodes - 1) / 2)
                    {
                        var mode = _rng.Next(4);
                        if (mode == 0)
                        {
                            var torn = inst.InFlight.Count > 0 && _rng.Next(2) == 0 ? TearWrite(inst, inst.InFlight.Dequeue()) : null;
                            Crash(inst, torn is null ? "between steps" : $"between steps, tearing a write ({torn})");
                        }
                        else if (mode == 3)
                        {
                            inst.FailNextWrite = true;
                            Log($"{inst.Name}'s next write will fail");
                        }
                        else
                        {
                            inst.CrashAtReady = mode;
                            Log($"{inst.Name} will crash at its next {(mode == 1 ? "Ready, losing its writes in flight" : "completed write, before acknowledging it")}");
                        }
                    }

                    break;
                }

            // A wipe in a group of one or two loses the only quorum for good (beyond fault tolerance).
            case 7 when _o.Wipes && _o.Nodes >= 3:
                Wipe();
                break;
            case 8 when _o.Membership:
                ChangeMembership(eager: false);
                break;
            case 9 when _o.Transfers:
                {
                    var leader = FindLeader();
                    var to = RandomId();
                    if (leader is not null)
                    {
                        var r = leader.Node.TransferLeadership(to);
                        Log($"transfer leadership {leader.Name} -> {to}: {r.Status}");
                        Drain(leader);
                    }

                    break;
                }

            case 10:
                _dropRate = _rng.Next(3) == 0 ? 0.3 : _o.DropRate;
                Log($"drop rate {_dropRate.ToString(CultureInfo.InvariantCulture)}");
                break;
        }
    }

    private void PartitionSymmetric()
    {
        Array.Clear(_blocked);
        var side = new bool[_o.Nodes + 1];
        for (var id = 1; id <= _o.Nodes; id++)
        {
            side[id] = _rng.Next(2) == 0;
        }

        for (var a = 1; a <= _o.Nodes; a++)
        {
            for (var b = 1; b <= _o.Nodes; b++)
            {
                _blocked[a, b] = side[a] != side[b];
            }
        }

        Log($"partition {string.Join(' ', Enumerable.Range(1, _o.Nodes).Select(i => side[i] ? "A" : "B"))}");
    }

    private void Crash(SimInstance inst, string how)
    {
        inst.Alive = false;
        inst.CrashAtReady = 0;
        inst.FailNextWrite = false;
        inst.InFlight.Clear();
        if (_current[inst.Id] == inst)
        {
            _downUntil[inst.Id] = _now + 1 + _rng.Next(4 * _o.ElectionTicks);
        }

        Log($"crash {inst.Name} {how}");
        foreach (var c in _clients)
        {
            if (c.Target == inst)
            {
                Abandon(c);
            }
        }
    }

    private void Restart(long id)
    {
        var old = _current[id]!;
        _current[id] = Boot(id, old.Incarnation, old.Storage);
        Log($"restart {old.Name} (commit {old.Storage.HardState.Commit}, last {old.Storage.LastIndex})");
    }

    /// <summary>
    /// A replica activates again without its data (a new incarnation with an empty disk). Either the old instance
    /// is gone, or both run for a while: the old one as a zombie beside the new one, or — a brief duplicate activation
    /// — the new one as the short-lived zombie while the old one (with the data) carries on. While an operator
    /// removal is pending or in force the wipe hits the removed replica, so its rejoin races the Remove and the
    /// re-add (AddLearner).
    /// </summary>
    private void Wipe()
    {
        var leader = FindLeader();
        // One replica in flux at a time: while a replica is down or two incarnations of one run, the leader may
        // (rightly, on the evidence it has) seat the incarnation that then ends, leaving two voters in a 3-node
        // group, so a wipe then would be a second failure.
        if (_wipes >= 2 || leader is null || !Settled(leader) || DownCount() > 0 || _zombie.Any(z => z is not null))
        {
            return;
        }

        var id = _removed.Count > 0 ? _removed.First() : RandomId();
        var old = _current[id]!;
        if (!old.Alive)
        {
            return;
        }

        _wipes++;
        if (_removed.Count > 0)
        {
            Log($"{id} is wiped during a removal");
        }

        var twoIncarnations = _o.TwoIncarnations ? _rng.Next(3) : 2;
        if (twoIncarnations == 1)
        {
            var incarnation = ++_incarnations[id];
            var fresh = Boot(id, incarnation, new MemoryRaftStorage());
            _zombie[id] = fresh;
            _zombieUntil[id] = _now + 1 + _rng.Next(6 * _o.ElectionTicks);
            Log($"short-lived new incarnation: {fresh.Name} with an empty disk runs beside {old.Name} until t={_zombieUntil[id]}");
            return;
        }

        if (twoIncarnations == 0)
        {
            _zombie[id] = old;
            _zombieUntil[id] = _now + 1 + _rng.Next(6 * _o.ElectionTicks);
            Log($"second incarnation: {old.Name} keeps running until t={_zombieUntil[id]}");
        }
        else
        {
            old.Alive = false;
            foreach (var c in _clients)
            {
                if (c.Target == old)
                {
                    Abandon(c);
                }
            }
        }

        var next = ++_incarnations[id];
        _current[id] = Boot(id, next, new MemoryRaftStorage());
        Log($"wipe {old.Name}: returns as {id}@{next} with an empty disk");
    }

    /// <summary>
    /// The leader's configuration is committed and names every replica as a voter at its current incarnation, except
    /// replicas the operator removed, which may be out of it (but not in it at another incarnation).
    /// </summary>
    private bool Settled(SimInstance leader)
    {
        if (leader.Node.CommitIndex != leader.Node.LastIndex)
        {
            return false;
        }

        var config = leader.Node.Config;
        for (var id = 1; id <= _o.Nodes; id++)
        {
            if (!config.IsVoter(id, _current[id]!.Incarnation) && !(_removed.Contains(id) && !config.TryGetMember(id, out _, out _)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Every replica is a voter at its current incarnation (replicas removed by the operator are added back).</summary>
    private bool AllRejoined(SimInstance leader)
    {
        for (var id = 1; id <= _o.Nodes; id++)
        {
            if (!leader.Node.Config.IsVoter(id, _current[id]!.Incarnation))
            {
                if (!leader.Node.Config.TryGetMember(id, out _, out _))
                {
                    // Removed by the operator (or its re-add was lost with a deposed leader): add it back.
                    var r = leader.Node.ProposeMembershipChange(
                        new ConfigChange(ConfigChangeType.AddLearner, new Member(id, _current[id]!.Incarnation, AutoPromote: _autoMembership)));
                    if (r.Accepted)
                    {
                        Log($"heal: add learner {id}@{_current[id]!.Incarnation}");
                        Drain(leader);
                    }
                }
                else if (!_autoMembership && ProposeOneChange(leader, eager: false) is { Accepted: true })
                {
                    Drain(leader);
                }

                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// An operator change: re-add a removed replica (as an auto-promoting learner, or directly as a voter), or remove
    /// a voter; without auto-membership also the leader's job (rejoin a new incarnation, promote a learner). An eager
    /// change comes right after an election, before the group settles; half the accepted changes are followed at once
    /// by another, which the leader must refuse while the first is uncommitted.
    /// </summary>
    private void ChangeMembership(bool eager)
    {
        var leader = FindLeader();
        if (leader is null)
        {
            return;
        }

        for (var i = 0; i < 2; i++)
        {
            var r = ProposeOneChange(leader, eager);
            if (r is not { Accepted: true } || !Chance(0.5))
            {
                break;
            }
        }

        Drain(leader);
    }

    private ProposeResult? ProposeOneChange(SimInstance leader, bool eager)
    {
        var config = leader.Node.Config;
        if (!_autoMembership)
        {
            for (var id = 1; id <= _o.Nodes; id++)
            {
                var incarnation = _current[id]!.Incarnation;
                if (config.TryGetMember(id, out var member, out var isVoter) && id != leader.Id && (member.Incarnation != incarnation || !isVoter))
                {
                    var change = member.Incarnation != incarnation
                        ? new ConfigChange(ConfigChangeType.Rejoin, new Member(id, incarnation))
                        : new ConfigChange(ConfigChangeType.PromoteLearner, member);
                    var result = leader.Node.ProposeMembershipChange(change);
                    Log($"{change.Type} {id}@{change.Member.Incarnation} at {leader.Name}: {result.Status} {result.Error}");
                    return result;
                }
            }
        }

        if (_removed.Count > 0)
        {
            var id = _removed.First();
            var asVoter = _rng.Next(3) == 0;
            var member = new Member(id, _current[id]!.Incarnation, AutoPromote: _autoMembership);
            var r = leader.Node.ProposeMembershipChange(new ConfigChange(asVoter ? ConfigChangeType.AddVoter : ConfigChangeType.AddLearner, member));
            Log($"{(asVoter ? "add voter" : "add learner")} {member.Id}@{member.Incarnation} at {leader.Name}: {r.Status} {r.Error}");
            if (r.Accepted || r.Status == ProposeStatus.InvalidConfigChange)
            {
                _removed.Remove(id);
            }

            return r;
        }

        // A removal while two incarnations of a replica run races their Rejoin. With 3 nodes it would leave two
        // voters, and a short-lived incarnation that takes a seat and dies would then be a voter failure the group
        // cannot survive (beyond its fault tolerance, not a protocol error), so only 5-node groups do it.
        if ((!eager && !Settled(leader)) || DownCount() > 0 || (_o.Nodes < 5 && _zombie.Any(z => z is not null)) || _o.Nodes < 3)
        {
            return null;
        }

        var victim = RandomId();
        if (victim == leader.Id)
        {
            return null;
        }

        var result2 = leader.Node.ProposeMembershipChange(new ConfigChange(ConfigChangeType.Remove, new Member(victim, _current[victim]!.Incarnation)));
        Log($"remove {victim} at {leader.Name}{(eager ? " right after its election" : "")}: {result2.Status} {result2.Error}");
        if (result2.Accepted)
        {
            _removed.Add(victim);
        }

        return result2;
    }

    private void Heal()
    {
        Array.Clear(_blocked);
        _dropRate = 0;
        for (var id = 1; id <= _o.Nodes; id++)
        {
            if (_current[id] is { Alive: false })
            {
                Restart(id);
            }

            _current[id]!.CrashAtReady = 0;
            _current[id]!.FailNextWrite = false;
            if (_zombie[id] is { } z)
            {
                z.Alive = false;
                _zombie[id] = null;
            }
        }

        Log("faults healed");
    }

    private int DownCount()
    {
        var down = 0;
        for (var id = 1; id <= _o.Nodes; id++)
        {
            if (_current[id] is { Alive: false } || _current[id]!.CrashAtReady != 0 || _current[id]!.FailNextWrite)
            {
                down++;
            }
        }

        return down;
    }

    // ---------------------------------------------------------------- clients

    private void StepClient(SimClient c)
    {
        if (c.Busy)
        {
            if (_now > c.Deadline)
            {
                Abandon(c);
            }

            return;
        }

        if (!Chance(0.3))
        {
            return;
        }

        // Mostly the node the client believes leads, sometimes any node (a client with a stale view).
        var target = !Chance(0.3) && _current[c.LeaderGuess] is { Alive: true } t ? t : _current[RandomId()];
        if (target is not { Alive: true })
        {
            return;
        }

        var key = (byte)_rng.Next(_o.Keys);
        var opId = ++_nextOpId;
        ProposeResult result;
        var isPut = _rng.Next(2) == 0;
        if (isPut)
        {
            result = target.Node.Propose(KvStateMachine.EncodePut(opId, key, opId));
        }
        else
        {
            result = target.Node.ReadIndex(opId);
        }

        if (!result.Accepted)
        {
            c.LeaderGuess = result.LeaderHint != 0 ? result.LeaderHint : RandomId();
            return;
        }

        c.Target = target;
        c.Kind = isPut ? ClientOpKind.Put : ClientOpKind.Get;
        c.Key = key;
        c.Value = opId;
        c.OpId = opId;
        c.Invoke = ++_clock;
        c.Deadline = _now + 6 * _o.ElectionTicks;
        c.Index = result.FirstIndex;
        c.Term = result.Term;
        c.ReadIndex = 0;
        Drain(target);
    }

    private void CompletePuts(SimInstance inst, in LogEntry e)
    {
        foreach (var c in _clients)
        {
            if (c.Target == inst && c.Kind == ClientOpKind.Put && c.Index == e.Index)
            {
                if (e.Term == c.Term && KvStateMachine.OpIdOf(e.Data.Span) == c.OpId)
                {
                    _history.Add(new ClientOp(ClientOpKind.Put, c.Key, c.Value, c.Invoke, ++_clock));
                    c.Target = null;
                }
                else
                {
                    Abandon(c);
                }
            }
        }
    }

    private void CompleteReads(SimInstance inst)
    {
        if (inst.PendingReads.Count > 0)
        {
            foreach (var rs in inst.PendingReads)
            {
                foreach (var c in _clients)
                {
                    if (c.Target == inst && c.Kind == ClientOpKind.Get && c.OpId == rs.Context)
                    {
                        if (rs.Refused)
                        {
                            Abandon(c); // not served: the client asks elsewhere
                        }
                        else
                        {
                            c.ReadIndex = rs.Index;
                        }
                    }
                }
            }

            inst.PendingReads.Clear();
        }

        foreach (var c in _clients)
        {
            if (c.Target == inst && c.Kind == ClientOpKind.Get && c.ReadIndex > 0 && inst.Kv.Applied >= c.ReadIndex)
            {
                _history.Add(new ClientOp(ClientOpKind.Get, c.Key, inst.Kv.Get(c.Key), c.Invoke, ++_clock));
                c.Target = null;
            }
        }
    }

    /// <summary>The client gives up: a Put may or may not have happened; a Get had no effect and is dropped.</summary>
    private void Abandon(SimClient c)
    {
        if (c.Target is null)
        {
            return;
        }

        if (c.Kind == ClientOpKind.Put)
        {
            _history.Add(new ClientOp(ClientOpKind.Put, c.Key, c.Value, c.Invoke, long.MaxValue));
        }

        c.Target = null;
        c.LeaderGuess = RandomId();
    }

    // ---------------------------------------------------------------- helpers

    private SimInstance Boot(long id, long incarnation, MemoryRaftStorage storage)
    {
        var boot = ++_boots[id];
        var node = new RaftNode(new RaftOptions
        {
            Id = id,
            Incarnation = incarnation,
            Storage = storage,
            Random = new SeededRaftRandom((ulong)(_seed * 1_000_003 + id * 7919 + boot * 104_729)),
            ElectionTicks = _o.ElectionTicks,
            HeartbeatTicks = _o.HeartbeatTicks,
            MaxBytesPerMessage = _o.MaxBytesPerMessage,
            MaxInflightMessages = 4,
            MaxInflightBytes = 2048,
            MaxSnapshotChunkBytes = 16,
            MaxCachedBytes = 4 * (LogEntry.Overhead + 8), // a few entries: lagging followers and restarts read from storage
            PreVote = _preVote,
            CheckQuorum = _checkQuorum,
            AutoMembership = _autoMembership,
            BroadcastCommit = _o.BroadcastCommit,
            Bugs = _o.Bugs,
        });
        var inst = new SimInstance(id, incarnation, storage, node);
        inst.Kv.Restore(storage.Snapshot);
        return inst;
    }

    private SimInstance? FindLeader()
    {
        SimInstance? best = null;
        for (var id = 1; id <= _o.Nodes; id++)
        {
            if (_current[id] is { Alive: true } c && c.Node.Role == RaftRole.Leader && (best is null || c.Node.Term > best.Node.Term))
            {
                best = c;
            }
        }

        return best;
    }

    private string NodeStates() => string.Join("; ", _current.Where(c => c is not null).Select(c =>
        $"{c!.Name} {c.Node.Role} t{c.Node.Term} last {c.Node.LastIndex}/t{c.Node.TermAt(c.Node.LastIndex)} commit {c.Node.CommitIndex} {c.Node.Config} {c.Node.DescribeReplication()} in-flight writes {c.InFlight.Count}"));

    private long RandomId() => 1 + _rng.Next(_o.Nodes);

    private bool Chance(double p) => p > 0 && _rng.Next(1_000_000) < p * 1_000_000;

    private void Log(string what) => _schedule.Add(string.Create(CultureInfo.InvariantCulture, $"t={_now} {what}"));
}
