using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>A drop of a replica's leftover data and an activation of that replica on the same silo never overlap, and an
/// activation does not open the replica's data while writes an ended activation queued are still to land.</summary>
public sealed class ReplicaDataGateTests
{
    [Fact]
    public async Task A_drop_is_refused_while_an_activation_holds_the_key_and_allowed_after_it_exits()
    {
        var gate = new ReplicaDataGate();
        await gate.EnterAsync("1/0/2");
        await gate.EnterAsync("1/0/2"); // a duplicate activation
        Assert.False(gate.TryClaimForDrop("1/0/2"));
        Assert.True(gate.TryClaimForDrop("1/0/1")); // another replica is not held
        gate.Exit("1/0/2");
        Assert.False(gate.TryClaimForDrop("1/0/2"));
        gate.Exit("1/0/2");
        Assert.True(gate.TryClaimForDrop("1/0/2"));
        Assert.False(gate.TryClaimForDrop("1/0/2")); // one drop at a time
    }

    [Fact]
    public async Task An_activation_that_starts_during_a_drop_waits_for_it_to_end()
    {
        var gate = new ReplicaDataGate();
        Assert.True(gate.TryClaimForDrop("1/3/0"));
        var entering = gate.EnterAsync("1/3/0");
        await Task.Yield();
        Assert.False(entering.IsCompleted);
        gate.ReleaseDrop("1/3/0");
        await entering.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(gate.TryClaimForDrop("1/3/0")); // the activation now holds it
        gate.Exit("1/3/0");
        gate.Exit("1/3/0"); // an extra exit changes nothing
        Assert.True(gate.TryClaimForDrop("1/3/0"));
    }

    [Fact]
    public async Task An_activation_waits_for_the_writes_an_ended_one_left_queued()
    {
        var gate = new ReplicaDataGate();
        await gate.EnterAsync("1/4/1");
        var first = new TaskCompletionSource();
        var second = new TaskCompletionSource();
        gate.ExitOnceWritten("1/4/1", first.Task); // its deactivation timed out with a persist queued
        Assert.False(gate.TryClaimForDrop("1/4/1")); // still held: nothing drops the data under the queued write

        var entering = gate.EnterAsync("1/4/1");
        await Task.Delay(50);
        Assert.False(entering.IsCompleted);

        await gate.EnterAsync("1/4/2"); // other replicas are not held up
        gate.ExitOnceWritten("1/4/2", Task.CompletedTask);
        Assert.True(gate.TryClaimForDrop("1/4/2"));

        first.SetException(new IOException("a failed write ends the wait as well"));
        await entering.WaitAsync(TimeSpan.FromSeconds(10));
        gate.ExitOnceWritten("1/4/1", second.Task);
        var third = gate.EnterAsync("1/4/1");
        await Task.Delay(50);
        Assert.False(third.IsCompleted);
        second.SetResult();
        await third.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(gate.TryClaimForDrop("1/4/1"));
        gate.ExitOnceWritten("1/4/1", Task.CompletedTask);
        Assert.True(gate.TryClaimForDrop("1/4/1"));
    }

    [Fact]
    public async Task Two_ended_activations_whose_writes_land_in_reverse_order_do_not_hold_the_next_one()
    {
        var gate = new ReplicaDataGate();
        await gate.EnterAsync("1/5/0");
        await gate.EnterAsync("1/5/0"); // a duplicate activation
        var first = new TaskCompletionSource();
        var second = new TaskCompletionSource();
        gate.ExitOnceWritten("1/5/0", first.Task);
        gate.ExitOnceWritten("1/5/0", second.Task);
        second.SetResult();
        first.SetResult(); // its exit may run before the combined wait completes, leaving that entry behind

        await gate.EnterAsync("1/5/0").WaitAsync(TimeSpan.FromSeconds(10));
        gate.ExitOnceWritten("1/5/0", Task.CompletedTask);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!gate.TryClaimForDrop("1/5/0"))
        {
            Assert.True(DateTime.UtcNow < deadline, "the ended activations' exits never ran");
            await Task.Delay(10);
        }
    }
}
