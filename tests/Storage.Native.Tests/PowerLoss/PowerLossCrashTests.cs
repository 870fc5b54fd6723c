using Pyralog.Storage.Native.CrashChild;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>
/// The crash test's workload (batches of log records plus a put of the new log end, background flush and compaction)
/// over a device that loses power at random mutations, with the last unsynced writes torn at a random byte. A SIGKILL
/// keeps the page cache; this drops everything not synced, so missing syncs and unsynced renames show.
/// </summary>
public class PowerLossCrashTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Power_loss_rounds_lose_no_acknowledged_write_and_keep_batches_atomic(int seed)
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = CrashWorkloadChecks.Options(device);
        var random = new Random(seed);
        ulong lastAck = 0, lastAttempt = 0;
        for (var round = 0; round < 8; round++)
        {
            var store = PyramidStore.Open(dir.Path, options);
            var context = $"seed {seed}, round {round}";
            var next = await CrashWorkloadChecks.AssertIntactAsync(store, context);
            Assert.True(next >= lastAck && next <= lastAttempt, $"{context}: acknowledged {lastAck}, attempted {lastAttempt}, recovered {next}");
            lastAck = lastAttempt = next;
            device.CutPowerAfter(random.Next(20, 600));
            using var batch = new WriteBatch(1 << 20);
            try
            {
                while (true)
                {
                    var count = random.Next(1, 64);
                    CrashWorkloadChecks.Fill(batch, next, count);
                    lastAttempt = next + (ulong)count;
                    await store.WriteAsync(batch);
                    lastAck = next = lastAttempt;
                }
            }
            catch (IOException)
            {
                // The power went (under this write or under a background flush or compaction).
            }

            await PowerLossDevice.LosePowerAsync(store, device, random.Next(0, 4000));
        }
    }
}
