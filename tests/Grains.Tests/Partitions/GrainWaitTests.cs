using System.Collections;
using System.Reflection;
using Microsoft.Extensions.Time.Testing;
using Pyralog.Grains.Partitions;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>
/// A partition grain's waits on its change signal: each returns when the signal completes, on deactivation, or with a
/// TimeoutException, and one that gives up leaves nothing on the signal (a consumer tailing a quiet partition polls
/// every few seconds for as long as the partition stays quiet).
/// </summary>
public sealed class GrainWaitTests
{
    private static readonly FieldInfo Continuations = typeof(Task).GetField("m_continuationObject", BindingFlags.Instance | BindingFlags.NonPublic)
        ?? throw new InvalidOperationException("System.Threading.Tasks.Task has no m_continuationObject field any more: update this test's probe");

    [Fact]
    public async Task Waits_that_time_out_leave_no_continuation_on_the_signal()
    {
        var time = new FakeTimeProvider();
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var deactivation = new CancellationTokenSource();
        for (var i = 0; i < 1000; i++)
        {
            var wait = GrainWait.ForAsync(signal.Task, TimeSpan.FromSeconds(5), time, deactivation.Token);
            Assert.False(wait.IsCompleted);
            time.Advance(TimeSpan.FromSeconds(5));
            await Assert.ThrowsAsync<TimeoutException>(() => wait);
        }

        Assert.Equal(0, LiveContinuations(signal.Task));

        var last = GrainWait.ForAsync(signal.Task, TimeSpan.FromSeconds(5), time, deactivation.Token);
        Assert.Equal(1, LiveContinuations(signal.Task));
        signal.SetResult();
        await last;
    }

    [Fact]
    public async Task A_deactivation_ends_the_wait_without_an_error_and_takes_its_continuation_off()
    {
        var time = new FakeTimeProvider();
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var deactivation = new CancellationTokenSource();
        var wait = GrainWait.ForAsync(signal.Task, TimeSpan.FromSeconds(5), time, deactivation.Token);
        deactivation.Cancel();
        await wait;
        Assert.Equal(0, LiveContinuations(signal.Task));
    }

    [Fact]
    public async Task No_time_left_times_out_at_once_unless_the_signal_came()
    {
        var time = new FakeTimeProvider();
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await Assert.ThrowsAsync<TimeoutException>(() => GrainWait.ForAsync(signal.Task, TimeSpan.FromMilliseconds(-1), time, CancellationToken.None));
        signal.SetResult();
        await GrainWait.ForAsync(signal.Task, TimeSpan.Zero, time, CancellationToken.None);
    }

    /// <summary>Continuations registered on <paramref name="task"/>: the runtime keeps one object or a list whose removed entries are nulls.</summary>
    private static int LiveContinuations(Task task) => Continuations.GetValue(task) switch
    {
        null => 0,
        IList list => list.Cast<object?>().Count(c => c is not null),
        _ => 1,
    };
}
