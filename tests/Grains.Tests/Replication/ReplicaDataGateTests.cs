using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>A drop of a replica's leftover data and an activation of that replica on the same silo never overlap.</summary>
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
}
