namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>What the WAL file tests share: 256 KiB records of seeded random bytes (a few fill a WAL file fast), and a wait
/// on a condition the store's background threads bring about.</summary>
internal static class WalTestRecords
{
    public const int Bytes = 256 << 10;

    public static byte[] Payload(ulong i)
    {
        var payload = new byte[Bytes];
        new Random((int)i).NextBytes(payload);
        return payload;
    }

    public static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }
}
