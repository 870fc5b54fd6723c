using Pyralog.Consensus;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>What the driver tests do to a driver through its turns.</summary>
internal static class DriverTurns
{
    /// <summary>Wakes a driver whose group has this replica as its only voter and ticks it until it leads.</summary>
    public static void ElectAlone(this TurnContext turns, ReplicaDriver driver)
    {
        turns.Run(() => driver.Wake("activation"));
        for (var i = 0; i < 40 && driver.Node.Role != RaftRole.Leader; i++)
        {
            turns.Run(driver.Tick);
            turns.Drain();
        }

        Assert.Equal(RaftRole.Leader, driver.Node.Role);
        turns.Drain();
    }
}
