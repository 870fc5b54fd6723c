using Pyralog.Cli.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Tests;

/// <summary>How <c>consume --from TIME</c> and a partition without a leader in its description take their replicas' answers.</summary>
public sealed class ReplicaAnswersTests
{
    [Fact]
    public async Task The_furthest_answer_wins_whatever_replica_answers_first()
    {
        // Slot 0 is a follower behind (it falls back to its own end, 3) and answers first; the leader answers 7 last.
        var leader = new TaskCompletionSource<ulong>();
        var answering = ReplicaAnswers.FurthestAsync([Task.FromResult(3UL), Task.FromException<ulong>(new TimeoutException("no answer")), leader.Task], o => o);
        Assert.False(answering.IsCompleted);
        leader.SetResult(7);
        Assert.Equal(7UL, await answering);
    }

    [Fact]
    public async Task Bounds_are_the_ones_with_the_furthest_end()
    {
        var bounds = await ReplicaAnswers.FurthestAsync(
            [Task.FromException<PartitionBounds>(new NotLeaderException("replica orders/0/0 does not lead")), Task.FromResult(new PartitionBounds(4, 5)), Task.FromResult(new PartitionBounds(2, 9))],
            b => b.End);
        Assert.Equal(new PartitionBounds(2, 9), bounds);
    }

    [Fact]
    public async Task Without_any_answer_the_last_failure_is_thrown()
    {
        var e = await Assert.ThrowsAsync<NotLeaderException>(() => ReplicaAnswers.FurthestAsync(
            [Task.FromException<ulong>(new TimeoutException("no answer")), Task.FromException<ulong>(new NotLeaderException("replica orders/0/1 does not lead"))], o => o));
        Assert.Equal("replica orders/0/1 does not lead", e.Message);
    }
}
